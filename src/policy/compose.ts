/**
 * Scopes, `<base/>` and fragments, as APIM composes them (apim.md §12.2):
 *
 * - scopes run broad → narrow: global, product, api, operation;
 * - `<base/>` in a section is replaced, at its position, by the parent scope's effective list for that
 *   section; a scope that defines a section WITHOUT `<base/>` cuts inheritance for that section; a
 *   scope that omits a section (or has no document at all) inherits the parent's section as is;
 * - `<base/>` at global scope inherits nothing (no-op) — except in `backend`, where the parent of the
 *   global scope is APIM's built-in default `<forward-request/>`: so when no scope supplies a backend
 *   section, or global's backend is `<base/>`, the effective backend is an implicit `forward-request`;
 * - each scope's `backend` section holds at most one element (`<base/>` counts as one), so the
 *   composed backend has at most one too.
 *
 * `include-fragment` is expanded first, per document, by `expandFragments`.
 */
import { PolicyError, sortPolicyProblems, type PolicyProblem } from './errors.js';
import { checkSection, isSectionName, SECTION_NAMES, type PolicyDocument, type PolicyElement, type PolicyNode, type SectionName } from './document.js';

export type Scope = 'global' | 'product' | 'api' | 'operation';
export const SCOPES: readonly Scope[] = ['global', 'product', 'api', 'operation'];

export interface EffectiveEntry {
  element: PolicyElement;
  /** the scope whose document holds the element (for context.LastError.Scope and traces) */
  scope: Scope;
  section: SectionName;
  /** APIM's built-in global default (`forward-request` in backend), not written by anyone */
  implicit?: boolean;
}

/** per section, the flat ordered list of policies to run */
export type EffectivePolicy = Record<SectionName, EffectiveEntry[]>;

export interface ScopeInput {
  scope: Scope;
  doc: PolicyDocument | undefined;
}

/** The implicit `<forward-request/>` of APIM's global default backend section. */
export function implicitForwardRequest(): PolicyElement {
  return { type: 'element', name: 'forward-request', attributes: new Map(), children: [], line: 0, col: 0, offset: -1, file: '<built-in>' };
}

export function composeScopes(scopes: ScopeInput[]): EffectivePolicy {
  const problems: PolicyProblem[] = [];
  let rank = -1;
  for (const s of scopes) {
    const r = SCOPES.indexOf(s.scope);
    if (r < 0) throw new PolicyError({ line: 0, col: 0, message: `unknown scope "${String(s.scope)}"` });
    if (r <= rank) throw new PolicyError({ line: 0, col: 0, message: `scopes must be given broad to narrow, each once (global, product, api, operation); got "${s.scope}" out of order` });
    rank = r;
  }

  // the parent of the global scope: APIM's built-in defaults
  let effective: EffectivePolicy = {
    inbound: [],
    backend: [{ element: implicitForwardRequest(), scope: 'global', section: 'backend', implicit: true }],
    outbound: [],
    'on-error': [],
  };

  for (const { scope, doc } of scopes) {
    if (!doc) continue; // no document at this scope: inherit everything
    if (doc.kind !== 'policies') {
      problems.push({ file: doc.file, line: doc.root.line, col: doc.root.col, message: `a ${scope}-scope policy must be a <policies> document, not a <${doc.root.name}>` });
      continue;
    }
    const next: EffectivePolicy = { ...effective };
    for (const section of SECTION_NAMES) {
      const sec = doc.sections[section];
      if (!sec) continue; // omitted: inherit the parent's section as is
      problems.push(...checkSection(sec));
      const own = sec.children.filter((c: PolicyNode): c is PolicyElement => c.type === 'element');
      if (section === 'backend' && own.length > 1) {
        const second = own[1]!;
        problems.push({
          file: second.file,
          line: second.line,
          col: second.col,
          message: `the backend section can contain only one policy element (found <${second.name}> after <${own[0]!.name}> at ${own[0]!.line}:${own[0]!.col})`,
        });
      }
      const list: EffectiveEntry[] = [];
      let based = false;
      for (const el of own) {
        if (el.name === 'base') {
          if (!based) list.push(...effective[section]);
          based = true;
        } else list.push({ element: el, scope, section });
      }
      next[section] = list;
    }
    effective = next;
  }

  if (problems.length > 0) throw new PolicyError(sortPolicyProblems(problems));
  return effective;
}

/**
 * Replaces every `<include-fragment fragment-id="x"/>` (in any section, at any depth) by the policies
 * of fragment `x`, recursively (fragments may include fragments). Unknown ids and include cycles are
 * load-time errors at the include's position. Returns a new document; the input is not modified.
 */
export function expandFragments(doc: PolicyDocument, fragments: Map<string, PolicyDocument>): PolicyDocument {
  const problems: PolicyProblem[] = [];
  const cache = new Map<string, PolicyElement[]>();

  const expandList = (nodes: PolicyNode[], chain: string[]): PolicyNode[] => {
    const out: PolicyNode[] = [];
    for (const node of nodes) {
      if (node.type === 'text') {
        out.push(node);
        continue;
      }
      if (node.name === 'include-fragment') {
        out.push(...include(node, chain));
        continue;
      }
      out.push(expandElement(node, chain));
    }
    return out;
  };

  const expandElement = (el: PolicyElement, chain: string[]): PolicyElement => {
    if (!el.children.some((c) => c.type === 'element')) return el;
    const children = expandList(el.children, chain);
    return children.every((c, i) => c === el.children[i]) && children.length === el.children.length ? el : { ...el, children };
  };

  const include = (node: PolicyElement, chain: string[]): PolicyElement[] => {
    const idAttr = node.attributes.get('fragment-id');
    const id = idAttr?.raw.trim() ?? '';
    if (id === '') {
      problems.push({ file: node.file, line: node.line, col: node.col, message: 'include-fragment requires a fragment-id attribute' });
      return [];
    }
    if (idAttr && idAttr.expressions.length > 0) {
      problems.push({ file: node.file, line: idAttr.line, col: idAttr.col, message: 'include-fragment: policy expressions are not allowed in fragment-id' });
      return [];
    }
    if (chain.includes(id)) {
      problems.push({
        file: node.file,
        line: node.line,
        col: node.col,
        message: `fragment recursion: ${[...chain, id].map((x) => `"${x}"`).join(' → ')}`,
      });
      return [];
    }
    const frag = fragments.get(id);
    if (!frag) {
      problems.push({ file: node.file, line: node.line, col: node.col, message: `unknown policy fragment "${id}"` });
      return [];
    }
    if (frag.kind !== 'fragment') {
      problems.push({ file: node.file, line: node.line, col: node.col, message: `policy fragment "${id}" is not a <fragment> document` });
      return [];
    }
    const cached = cache.get(id);
    if (cached) return cached; // the expansion does not depend on where the fragment is included
    const before = problems.length;
    const expanded = expandList(frag.policies, [...chain, id]).filter((c): c is PolicyElement => c.type === 'element');
    if (problems.length === before) cache.set(id, expanded);
    return expanded;
  };

  const root = expandElement(doc.root, []);
  if (problems.length > 0) throw new PolicyError(sortPolicyProblems(dedupe(problems)));
  if (root === doc.root) return doc;

  const sections: PolicyDocument['sections'] = {};
  const policies: PolicyElement[] = [];
  for (const c of root.children) {
    if (c.type !== 'element') continue;
    if (doc.kind === 'policies') {
      if (isSectionName(c.name) && sections[c.name] === undefined) sections[c.name] = c;
    } else policies.push(c);
  }
  return { ...doc, root, sections, policies };
}

function dedupe(problems: PolicyProblem[]): PolicyProblem[] {
  const seen = new Set<string>();
  return problems.filter((p) => {
    const k = `${p.file}:${p.line}:${p.col}:${p.message}`;
    if (seen.has(k)) return false;
    seen.add(k);
    return true;
  });
}
