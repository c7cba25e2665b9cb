/** KaTeX formula, rendered to HTML (throwOnError off: a bad number never breaks the view). */
import katex from 'katex';
import 'katex/dist/katex.min.css';
import { useMemo } from 'react';

export function Tex({ tex, block = false }: { tex: string; block?: boolean }) {
  const html = useMemo(() => katex.renderToString(tex, { displayMode: block, throwOnError: false, strict: 'ignore' }), [tex, block]);
  // biome-ignore lint/security/noDangerouslySetInnerHtml: KaTeX's HTML for our own TeX strings (numbers we format), not user markup
  return <span className={block ? 'tex-block' : 'tex'} dangerouslySetInnerHTML={{ __html: html }} />;
}
