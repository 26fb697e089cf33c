// A template's parameters checked against its components, and its text rendered with them, as Meta defines
// both. The template (from the Graph API's message_templates) has HEADER (format TEXT with `{{1}}` or
// `{{name}}` placeholders, or IMAGE / VIDEO / DOCUMENT / LOCATION), BODY (text with placeholders), FOOTER and
// BUTTONS (a URL button's url may end in `{{1}}`; a COPY_CODE button takes the code). The parameters are the
// Send API's `template.components`: `{ type: header | body, parameters: [...] }` and
// `{ type: button, sub_type: url | copy_code, index: "0", parameters: [...] }`.

export interface TemplateProblem {
  /** Where, under `parameters`: `body`, `header`, `button[0]`, or an index of the array. */
  field: string;
  message: string;
}

export type TemplateCheck = { ok: true; rendered: string } | { ok: false; problems: TemplateProblem[] };

interface TemplateComponent {
  type?: unknown;
  format?: unknown;
  text?: unknown;
  buttons?: unknown;
}

interface SendComponent {
  type: string;
  sub_type?: string;
  index?: string;
  parameters: Record<string, unknown>[];
}

const PLACEHOLDER = /\{\{\s*([A-Za-z0-9_]+)\s*\}\}/g;
const MEDIA_FORMATS = new Set(['IMAGE', 'VIDEO', 'DOCUMENT', 'LOCATION']);

/** The placeholders of a text, in order of first appearance. */
function placeholdersOf(text: unknown): string[] {
  if (typeof text !== 'string') return [];
  return [...new Set([...text.matchAll(PLACEHOLDER)].map((match) => match[1]!))];
}

const upper = (value: unknown) => (typeof value === 'string' ? value.toUpperCase() : '');

/** What a text parameter shows: its text, or a currency's or date's fallback. */
function shownValue(parameter: Record<string, unknown>): string | null {
  if (typeof parameter.text === 'string') return parameter.text;
  for (const key of ['currency', 'date_time']) {
    const fallback = (parameter[key] as { fallback_value?: unknown } | undefined)?.fallback_value;
    if (typeof fallback === 'string') return fallback;
  }
  return null;
}

/**
 * Checks Send API parameters against a template's components: every placeholder and media header filled,
 * nothing the template does not have. When they fit, renders what the customer reads (header, body, footer).
 */
export function checkTemplateParameters(templateComponents: unknown, parameters: unknown): TemplateCheck {
  const problems: TemplateProblem[] = [];
  const components = (Array.isArray(templateComponents) ? templateComponents : []) as TemplateComponent[];
  const given = readGiven(parameters ?? [], problems);
  if (!given) return { ok: false, problems };

  const header = components.find((component) => upper(component.type) === 'HEADER');
  const body = components.find((component) => upper(component.type) === 'BODY');
  const footer = components.find((component) => upper(component.type) === 'FOOTER');
  const buttons = components.find((component) => upper(component.type) === 'BUTTONS');
  const used = new Set<SendComponent>();
  const take = (type: string, subType?: string, index?: string) => {
    const found = given.find(
      (component) =>
        component.type === type &&
        (subType === undefined || component.sub_type === subType) &&
        (index === undefined || component.index === index),
    );
    if (found) used.add(found);
    return found;
  };

  let headerText: string | null = null;
  if (header) {
    const format = upper(header.format) || 'TEXT';
    if (MEDIA_FORMATS.has(format)) {
      const media = format.toLowerCase();
      const filled = take('header')?.parameters.find((parameter) => parameter.type === media);
      if (!filled) problems.push({ field: 'header', message: `needs one ${media} parameter (the header's ${media})` });
    } else {
      headerText = fill(header.text, take('header'), 'header', problems);
    }
  }
  const bodyText = body ? fill(body.text, take('body'), 'body', problems) : null;

  const buttonList = (Array.isArray(buttons?.buttons) ? buttons.buttons : []) as Record<string, unknown>[];
  buttonList.forEach((button, index) => {
    const type = upper(button.type);
    if (type === 'URL' && placeholdersOf(button.url).length > 0) {
      const filled = take('button', 'url', String(index));
      if (!filled?.parameters.some((parameter) => typeof parameter.text === 'string'))
        problems.push({ field: `button[${index}]`, message: 'needs one text parameter (the end of its URL)' });
    } else if (type === 'COPY_CODE') {
      const filled = take('button', 'copy_code', String(index));
      if (!filled?.parameters.some((parameter) => typeof parameter.coupon_code === 'string'))
        problems.push({ field: `button[${index}]`, message: 'needs one coupon_code parameter' });
    }
  });
  given.forEach((component, index) => {
    if (used.has(component)) return;
    const what =
      component.type === 'button'
        ? `button ${component.sub_type ?? ''} at index ${component.index ?? '?'}`
        : component.type;
    problems.push({ field: String(index), message: `the template has no ${what} that takes parameters` });
  });
  if (problems.length > 0) return { ok: false, problems };
  const rendered = [headerText, bodyText, typeof footer?.text === 'string' ? footer.text : null]
    .filter((part): part is string => Boolean(part))
    .join('\n\n');
  return { ok: true, rendered };
}

/** The parameters as a list of Send API components (type lower-cased), or null with the problems. */
function readGiven(parameters: unknown, problems: TemplateProblem[]): SendComponent[] | null {
  if (!Array.isArray(parameters)) {
    problems.push({ field: '', message: "must be a list of the Send API's template components" });
    return null;
  }
  const components: SendComponent[] = [];
  parameters.forEach((value, index) => {
    const component = value as Record<string, unknown> | null;
    if (!component || typeof component !== 'object' || Array.isArray(component) || typeof component.type !== 'string') {
      problems.push({ field: String(index), message: 'must be an object with a type (header, body or button)' });
      return;
    }
    const list = component.parameters;
    if (!Array.isArray(list) || list.some((parameter) => !parameter || typeof parameter !== 'object')) {
      problems.push({ field: `${index}.parameters`, message: 'must be a list of parameter objects' });
      return;
    }
    components.push({
      type: component.type.toLowerCase(),
      sub_type: typeof component.sub_type === 'string' ? component.sub_type.toLowerCase() : undefined,
      index: component.index === undefined ? undefined : String(component.index),
      parameters: list as Record<string, unknown>[],
    });
  });
  return problems.length > 0 ? null : components;
}

/**
 * A text's placeholders filled from a component's parameters: positional (`{{1}}` is the first parameter) or
 * named (`{{name}}` is the parameter whose `parameter_name` is name). Null (with a problem) when one is missing.
 */
function fill(text: unknown, component: SendComponent | undefined, field: string, problems: TemplateProblem[]) {
  if (typeof text !== 'string') return null;
  const names = placeholdersOf(text);
  const parameters = component?.parameters ?? [];
  const values = new Map<string, string>();
  const missing: string[] = [];
  names.forEach((name) => {
    const positional = /^\d+$/.test(name);
    const parameter = positional
      ? parameters[Number(name) - 1]
      : parameters.find((candidate) => candidate.parameter_name === name);
    const value = parameter ? shownValue(parameter) : null;
    if (value === null) missing.push(`{{${name}}}`);
    else values.set(name, value);
  });
  if (missing.length > 0) {
    problems.push({
      field,
      message: `needs ${names.length} parameter${names.length === 1 ? '' : 's'}; missing ${missing.join(', ')}`,
    });
    return null;
  }
  if (parameters.length > names.length) {
    const takes = `${names.length} parameter${names.length === 1 ? '' : 's'}`;
    problems.push({ field, message: `takes ${takes}, got ${parameters.length}` });
    return null;
  }
  return text.replace(PLACEHOLDER, (_match, name: string) => values.get(name) ?? '');
}
