/**
 * An answer's tool calls as collapsed, expandable cards (name, status, arguments, result),
 * placed in the answer's text where the model made them (`offset`). A call that waits for
 * approval shows Approve / Deny / Approve for this chat. Everything from the model or a
 * tool is set as text (`textContent`), never as HTML.
 */
import type { IToolCall, ToolDecision } from './api';
import { button } from './ui';

/** The answer's text cut at its calls: each piece of text, then the calls made after it. */
export interface ISegment {
  text: string;
  calls: IToolCall[];
}

export function segments(content: string, calls: IToolCall[]): ISegment[] {
  if (calls.length === 0) {
    return [{ text: content, calls: [] }];
  }
  const groups = new Map<number, IToolCall[]>();
  for (const call of calls) {
    const at = Math.max(0, Math.min(content.length, call.offset ?? 0));
    groups.set(at, [...(groups.get(at) ?? []), call]);
  }
  const result: ISegment[] = [];
  let start = 0;
  for (const at of [...groups.keys()].sort((a, b) => a - b)) {
    result.push({ text: content.slice(start, at), calls: groups.get(at)! });
    start = at;
  }
  result.push({ text: content.slice(start), calls: [] });
  return result;
}

const STATUS_LABELS: Record<string, string> = {
  running: 'running…',
  awaiting_approval: 'waiting for your approval',
  done: 'done',
  error: 'failed',
  denied: 'not run'
};

/** The arguments' JSON text, indented when it parses. */
function prettyArguments(text: string): string {
  try {
    return JSON.stringify(JSON.parse(text), null, 2);
  } catch {
    return text;
  }
}

function block(label: string, text: string, className: string): HTMLElement[] {
  const title = document.createElement('div');
  title.className = 'jp-OuiToolCall-label';
  title.textContent = label;
  const pre = document.createElement('pre');
  pre.className = className;
  pre.textContent = text;
  return [title, pre];
}

/**
 * Fill `card` (a `<details>`, kept across updates so that it stays open or closed as the
 * user left it) with `call`; `decide`: the buttons of a waiting call.
 */
export function fillCard(
  card: HTMLDetailsElement,
  call: IToolCall,
  decide: ((decision: ToolDecision) => void) | null
): void {
  card.className = 'jp-OuiToolCall';
  card.dataset.status = call.status;
  card.dataset.callId = call.id;
  const summary = document.createElement('summary');
  summary.className = 'jp-OuiToolCall-summary';
  const name = document.createElement('span');
  name.className = 'jp-OuiToolCall-name';
  name.textContent = call.name;
  const status = document.createElement('span');
  status.className = 'jp-OuiToolCall-status';
  status.textContent = STATUS_LABELS[call.status] ?? call.status;
  summary.append('Tool ', name, ' ', status);
  const parts: (HTMLElement | string)[] = [
    summary,
    ...block(
      'Arguments',
      prettyArguments(call.arguments),
      'jp-OuiToolCall-arguments'
    )
  ];
  if (call.result) {
    parts.push(...block('Result', call.result, 'jp-OuiToolCall-result'));
  }
  if (call.status === 'awaiting_approval' && decide) {
    const row = document.createElement('div');
    row.className = 'jp-OuiToolCall-approval';
    const choices: [string, ToolDecision, string][] = [
      ['Approve', 'approve', 'jp-mod-accept'],
      ['Deny', 'deny', 'jp-mod-warn'],
      ['Approve for this chat', 'approve_chat', '']
    ];
    for (const [label, decision, extra] of choices) {
      const choice = button(label, `jp-OuiToolCall-${decision} ${extra}`);
      choice.setAttribute('aria-label', `${label}: ${call.name}`);
      choice.onclick = () => {
        row.querySelectorAll('button').forEach(b => (b.disabled = true));
        decide(decision);
      };
      row.appendChild(choice);
    }
    parts.push(row);
    card.open = true; // what waits for the user shows what it would do
  }
  card.replaceChildren(...parts);
}
