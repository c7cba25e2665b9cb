/** The site table for the loaded model (the standard ViT shape until the model has loaded). */
import { useMemo } from 'react';
import { buildSites, type SiteInfo, type VitShape } from '../../plan/sites';
import { DEFAULT_SITES } from '../../state/presets';
import { useResults } from './results';

export function useSites(): SiteInfo[] {
  const config = useResults((r) => r.model?.config);
  return useMemo(() => {
    const c = config as Partial<VitShape> | undefined;
    if (!c || !c.dim || !c.depth || !c.heads || !c.mlp || !c.patch || !c.classes || !c.image) return DEFAULT_SITES;
    try {
      const s = buildSites(c as VitShape);
      return s.length === DEFAULT_SITES.length ? s : DEFAULT_SITES;
    } catch {
      return DEFAULT_SITES;
    }
  }, [config]);
}

const CIFAR10_CLASSES = ['airplane', 'automobile', 'bird', 'cat', 'deer', 'dog', 'frog', 'horse', 'ship', 'truck'];

/** The dataset's class names (one stable array, so memoized charts do not redraw for nothing). */
export function useClassNames(): string[] {
  const names = useResults((r) => r.dataset?.classNames);
  return names && names.length === 10 ? names : CIFAR10_CLASSES;
}
