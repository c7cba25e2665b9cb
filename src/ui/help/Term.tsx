/**
 * A term of art with its glossary entry as a tooltip (hover or keyboard focus). The text comes
 * from glossary.ts only, so one explanation serves every view.
 */
import { useId, type ReactNode } from 'react';
import { GLOSSARY, type GlossaryId } from './glossary';

export function Term({ id, children }: { id: GlossaryId; children?: ReactNode }) {
  const tip = useId();
  const e = GLOSSARY[id];
  return (
    <span className="term" tabIndex={0} aria-describedby={tip} data-term={id}>
      {children ?? e.term}
      <span role="tooltip" id={tip} className="term-tip">
        <b>{e.term}</b>: {e.text}
      </span>
    </span>
  );
}
