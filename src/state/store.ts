/**
 * The zustand store: one slice for the plan, one for navigation, one for messages. Only
 * serializable data lives here (never GPU objects, never engine results).
 */
import { create, type StateCreator } from 'zustand';
import { SITE_COUNT } from '../plan/sites';
import type { Plan, SiteScheme } from '../plan/plan';
import type { BackendChoice, EvalSetName } from '../plan/types';
import { defaultConfig, type Config, type ViewId } from './config';
import { presetById, type PresetContext } from './presets';

export interface PlanSlice {
  plan: Plan;
  setPlan: (plan: Plan) => void;
  setSite: (site: number, scheme: SiteScheme) => void;
  /** apply an edit to every site (the "apply to all" controls); the edit may return null to skip a site */
  editAll: (edit: (s: SiteScheme, site: number) => SiteScheme | null, name?: string) => void;
  applyPreset: (id: string) => void;
  presetContext: PresetContext;
  setPresetContext: (ctx: PresetContext) => void;
  /** plan A of the A/B compare (a full Plan, validated); the live `plan` is B */
  pinned: Plan | null;
  pin: (plan: Plan) => void;
  unpin: () => void;
}

export interface NavSlice {
  selectedSite: number;
  view: ViewId;
  evalSet: EvalSetName;
  liveSize: number;
  image: number;
  operand: 'a' | 'b';
  stageStep: number;
  backend: BackendChoice;
  selectSite: (i: number) => void;
  setView: (v: ViewId) => void;
  setEvalSet: (e: EvalSetName) => void;
  setLiveSize: (n: number) => void;
  setImage: (i: number) => void;
  setOperand: (o: 'a' | 'b') => void;
  setStageStep: (t: number) => void;
  setBackend: (b: BackendChoice) => void;
  /** replace the whole serializable config (URL hash → store) */
  loadConfig: (c: Config) => void;
}

export interface MessageSlice {
  /** why the URL hash was ignored (shown as a dismissible notice) */
  hashError: string | null;
  setHashError: (e: string | null) => void;
}

export type Store = PlanSlice & NavSlice & MessageSlice;

const planSlice: StateCreator<Store, [], [], PlanSlice> = (set, get) => ({
  plan: defaultConfig().plan,
  setPlan: (plan) => set({ plan }),
  setSite: (site, scheme) =>
    set((st) => {
      const sites = st.plan.sites.slice();
      sites[site] = scheme;
      return { plan: { version: 1, name: 'custom', sites } };
    }),
  editAll: (edit, name = 'custom') =>
    set((st) => ({
      plan: { version: 1, name, sites: st.plan.sites.map((s, i) => edit(structuredClone(s), i) ?? s) },
    })),
  applyPreset: (id) => {
    const p = presetById(id);
    if (p) set({ plan: p.build(get().presetContext) });
  },
  presetContext: {},
  setPresetContext: (presetContext) => set({ presetContext }),
  pinned: null,
  pin: (plan) => set({ pinned: structuredClone(plan) }),
  unpin: () => set({ pinned: null }),
});

const clampSite = (i: number) => Math.max(0, Math.min(SITE_COUNT - 1, i));

const navSlice: StateCreator<Store, [], [], NavSlice> = (set) => {
  const d = defaultConfig();
  return {
    selectedSite: d.selectedSite,
    view: d.view,
    evalSet: d.evalSet,
    liveSize: d.liveSize,
    image: d.image,
    operand: d.operand,
    stageStep: d.stageStep,
    backend: d.backend,
    selectSite: (i) => set({ selectedSite: clampSite(i) }),
    setView: (view) => set({ view }),
    setEvalSet: (evalSet) => set({ evalSet }),
    setLiveSize: (liveSize) => set({ liveSize: Math.max(1, Math.round(liveSize)) }),
    setImage: (image) => set({ image: Math.max(0, Math.round(image)) }),
    setOperand: (operand) => set({ operand }),
    setStageStep: (stageStep) => set({ stageStep: Math.max(0, stageStep) }),
    setBackend: (backend) => set({ backend }),
    loadConfig: (c) => set({ ...c }),
  };
};

const messageSlice: StateCreator<Store, [], [], MessageSlice> = (set) => ({
  hashError: null,
  setHashError: (hashError) => set({ hashError }),
});

export const useStore = create<Store>()((...a) => ({ ...planSlice(...a), ...navSlice(...a), ...messageSlice(...a) }));

/** The serializable part of the store (what the URL hash mirrors). */
export function selectConfig(s: Store): Config {
  return {
    plan: s.plan,
    selectedSite: s.selectedSite,
    view: s.view,
    evalSet: s.evalSet,
    liveSize: s.liveSize,
    image: s.image,
    operand: s.operand,
    stageStep: s.stageStep,
    backend: s.backend,
    pinned: s.pinned,
  };
}
