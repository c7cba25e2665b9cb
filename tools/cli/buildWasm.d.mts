export class WasmBuildError extends Error {}
export function buildWasm(opts?: { force?: boolean; strict?: boolean; root?: string; log?: (line: string) => void }): 'up-to-date' | 'built' | 'failed';
