/**
 * Pure text helpers: labels, dates, notebook outputs as text.
 */
import type { ISource } from './api';

/** The last path segment. */
export function basename(path: string): string {
  const parts = path.split('/').filter(p => p.length > 0);
  return parts.length > 0 ? parts[parts.length - 1] : path;
}

const isObject = (value: unknown): value is Record<string, unknown> =>
  value !== null && typeof value === 'object' && !Array.isArray(value);

const num = (value: unknown): number | null =>
  typeof value === 'number' && Number.isFinite(value) ? value : null;

/**
 * Read a source as the server sends it: our flat shape (`source` a path)
 * or the retrieval shape (`path` + Open WebUI's `source: {id, name, type}`,
 * `document: [snippet]`). `null` when it names nothing.
 */
export function normalizeSource(raw: unknown): ISource | null {
  if (!isObject(raw)) {
    return null;
  }
  const nested = isObject(raw.source) ? raw.source : null;
  const path =
    typeof raw.path === 'string' && raw.path
      ? raw.path
      : typeof raw.source === 'string'
        ? raw.source
        : nested && typeof nested.id === 'string'
          ? nested.id
          : '';
  if (!path) {
    return null;
  }
  const document = Array.isArray(raw.document) ? raw.document[0] : undefined;
  const snippet =
    typeof raw.snippet === 'string'
      ? raw.snippet
      : typeof document === 'string'
        ? document
        : undefined;
  const kind =
    nested && typeof nested.type === 'string' ? nested.type : 'workspace';
  const name =
    typeof raw.name === 'string'
      ? raw.name
      : nested && typeof nested.name === 'string'
        ? nested.name
        : undefined;
  const source: ISource = {
    source: path,
    cell: num(raw.cell),
    cell_id: typeof raw.cell_id === 'string' ? raw.cell_id : null,
    start_line: num(raw.start_line),
    end_line: num(raw.end_line),
    page: num(raw.page),
    openable: kind === 'workspace'
  };
  if (snippet !== undefined) {
    source.snippet = snippet;
  }
  if (name !== undefined) {
    source.name = name;
  }
  const score = num(raw.score);
  if (score !== null) {
    source.score = score;
  }
  return source;
}

/** Normalise a list of raw sources, dropping the unreadable ones. */
export function normalizeSources(raw: unknown): ISource[] {
  return Array.isArray(raw)
    ? raw.map(normalizeSource).filter((s): s is ISource => s !== null)
    : [];
}

/** Chip label of a citation: `file.ipynb · cell 4`, `x.py · L10-20`, `a.pdf · p. 3`. */
export function citationLabel(source: ISource): string {
  const name = basename(source.name || source.source);
  if (typeof source.cell === 'number') {
    return `${name} · cell ${source.cell + 1}`;
  }
  if (typeof source.start_line === 'number') {
    const end = source.end_line;
    return typeof end === 'number' && end !== source.start_line
      ? `${name} · L${source.start_line}-${end}`
      : `${name} · L${source.start_line}`;
  }
  if (typeof source.page === 'number') {
    return `${name} · p. ${source.page}`;
  }
  return name;
}

/** Sources with the same location collapse to one chip (highest score first). */
export function uniqueSources(sources: ISource[]): ISource[] {
  const seen = new Set<string>();
  const sorted = [...sources].sort((a, b) => (b.score ?? 0) - (a.score ?? 0));
  const result: ISource[] = [];
  for (const source of sorted) {
    const key = [
      source.source,
      source.cell_id ?? source.cell,
      source.start_line,
      source.page
    ].join('|');
    if (!seen.has(key)) {
      seen.add(key);
      result.push(source);
    }
  }
  return result;
}

/** Timestamps from the server are seconds (Open WebUI) or nanoseconds/ms: normalise to ms. */
export function toMillis(timestamp: number): number {
  if (timestamp > 1e17) {
    return Math.floor(timestamp / 1e6);
  }
  if (timestamp > 1e14) {
    return Math.floor(timestamp / 1e3);
  }
  if (timestamp > 1e11) {
    return timestamp;
  }
  return timestamp * 1000;
}

/** Group label of a chat in the list by its last update. */
export function dateGroup(timestamp: number, now: number = Date.now()): string {
  const then = new Date(toMillis(timestamp));
  const today = new Date(now);
  today.setHours(0, 0, 0, 0);
  const day = 24 * 3600 * 1000;
  const t = then.getTime();
  if (t >= today.getTime()) {
    return 'Today';
  }
  if (t >= today.getTime() - day) {
    return 'Yesterday';
  }
  if (t >= today.getTime() - 7 * day) {
    return 'Previous 7 days';
  }
  if (t >= today.getTime() - 30 * day) {
    return 'Previous 30 days';
  }
  return 'Older';
}

// eslint-disable-next-line no-control-regex
const ANSI = /\u001b\[[0-9;?]*[ -/]*[@-~]/g;

/** Remove ANSI colour codes (tracebacks). */
export function stripAnsi(text: string): string {
  return text.replace(ANSI, '');
}

/** The nbformat output fields we read. */
export interface IOutputLike {
  output_type: string;
  text?: string | string[];
  data?: Record<string, unknown>;
  ename?: string;
  evalue?: string;
  traceback?: string[];
}

const joined = (text: unknown): string =>
  Array.isArray(text) ? text.join('') : typeof text === 'string' ? text : '';

/** Outputs of a cell as plain text (streams, text/plain results, errors). */
export function outputsText(outputs: IOutputLike[], limit = 4000): string {
  const parts: string[] = [];
  for (const output of outputs) {
    switch (output.output_type) {
      case 'stream':
        parts.push(joined(output.text));
        break;
      case 'execute_result':
      case 'display_data': {
        const plain = output.data?.['text/plain'];
        if (plain !== undefined) {
          parts.push(joined(plain));
        }
        break;
      }
      case 'error':
        parts.push(
          stripAnsi(
            output.traceback?.length
              ? output.traceback.join('\n')
              : `${output.ename}: ${output.evalue}`
          )
        );
        break;
      default:
        break;
    }
  }
  const text = parts.join('\n').trim();
  return text.length > limit ? `${text.slice(0, limit)}\n… (truncated)` : text;
}

/** Whether any output is an error. */
export function hasError(outputs: IOutputLike[]): boolean {
  return outputs.some(o => o.output_type === 'error');
}

/** A fenced block that survives backticks inside `text`. */
export function fenced(text: string, language = ''): string {
  const longest = Math.max(2, ...(text.match(/`+/g) ?? []).map(r => r.length));
  const fence = '`'.repeat(longest + 1);
  return `${fence}${language}\n${text}\n${fence}`;
}

/**
 * A new chat's title until the server writes a generated one: the prompt's
 * first line with letters, at most `limit` characters, cut after a whole word
 * ("…" marks the cut). The server recognises it as a placeholder
 * (`services/title_text.py`, `fallback_title`).
 */
export function placeholderTitle(prompt: string, limit = 60): string {
  const lines = prompt.split('\n').map(l => l.split(/\s+/).join(' ').trim());
  const line =
    lines.find(l => l && !l.startsWith('```') && /\p{L}/u.test(l)) ??
    prompt.split(/\s+/).join(' ').trim();
  const chars = Array.from(line);
  if (chars.length <= limit) {
    return line || 'New Chat';
  }
  let head = chars.slice(0, limit - 1).join('');
  if (chars[limit - 1] !== ' ' && head.includes(' ')) {
    head = head.slice(0, head.lastIndexOf(' '));
  }
  return head.replace(/[\s,;:\-–—]+$/u, '') + '…';
}
