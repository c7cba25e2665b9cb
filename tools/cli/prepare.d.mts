export function prepare(opts?: { log?: (line: string) => void }): Promise<void>;
