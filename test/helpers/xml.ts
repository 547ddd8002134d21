/**
 * A small strict XML 1.0 reader for tests (JUnit reports): throws on anything that is not
 * well-formed — unbalanced or mismatched tags, unquoted or repeated attributes, a raw "<"
 * or "&" where it may not be, unknown entities, characters XML cannot hold, more than one
 * root. Written from the XML spec, independent of src/, so it checks the writer.
 */
export interface XmlElement {
  name: string;
  attrs: Record<string, string>;
  children: XmlElement[];
  text: string;
}

const NAME = /^[A-Za-z_:][\w.:-]*/;
// eslint-disable-next-line no-control-regex
const BAD_CHAR = /[\u0000-\u0008\u000b\u000c\u000e-\u001f\ufffe\uffff]/;

function decode(s: string, where: number): string {
  if (BAD_CHAR.test(s)) throw new Error(`character not allowed in XML near offset ${where}`);
  if (s.includes("<")) throw new Error(`raw "<" near offset ${where}`);
  return s.replace(/&([^;]*);?/g, (m, ref: string) => {
    if (!m.endsWith(";")) throw new Error(`"&" without ";" near offset ${where}`);
    const named: Record<string, string> = { amp: "&", lt: "<", gt: ">", quot: '"', apos: "'" };
    if (ref in named) return named[ref]!;
    if (/^#\d+$/.test(ref)) return String.fromCodePoint(Number(ref.slice(1)));
    if (/^#x[0-9a-fA-F]+$/.test(ref)) return String.fromCodePoint(parseInt(ref.slice(2), 16));
    throw new Error(`unknown entity &${ref}; near offset ${where}`);
  });
}

export function parseXml(xml: string): XmlElement {
  let i = 0;
  const skipWs = () => {
    while (i < xml.length && /\s/.test(xml[i]!)) i++;
  };
  const skipMisc = () => {
    for (;;) {
      skipWs();
      if (xml.startsWith("<!--", i)) {
        const end = xml.indexOf("-->", i + 4);
        if (end < 0) throw new Error("unterminated comment");
        if (xml.slice(i + 4, end).includes("--")) throw new Error(`"--" inside a comment at ${i}`);
        i = end + 3;
      } else if (xml.startsWith("<?", i)) {
        const end = xml.indexOf("?>", i);
        if (end < 0) throw new Error("unterminated processing instruction");
        i = end + 2;
      } else {
        return;
      }
    }
  };
  const element = (): XmlElement => {
    if (xml[i] !== "<") throw new Error(`expected "<" at ${i}`);
    i++;
    const m = NAME.exec(xml.slice(i));
    if (m === null) throw new Error(`bad element name at ${i}`);
    const el: XmlElement = { name: m[0], attrs: {}, children: [], text: "" };
    i += m[0].length;
    for (;;) {
      const before = i;
      skipWs();
      if (xml.startsWith("/>", i)) {
        i += 2;
        return el;
      }
      if (xml[i] === ">") {
        i++;
        break;
      }
      if (i === before) throw new Error(`expected whitespace before an attribute at ${i}`);
      const a = NAME.exec(xml.slice(i));
      if (a === null) throw new Error(`bad attribute name at ${i}`);
      i += a[0].length;
      skipWs();
      if (xml[i] !== "=") throw new Error(`expected "=" at ${i}`);
      i++;
      skipWs();
      const q = xml[i];
      if (q !== '"' && q !== "'") throw new Error(`unquoted attribute value at ${i}`);
      const end = xml.indexOf(q, i + 1);
      if (end < 0) throw new Error(`unterminated attribute value at ${i}`);
      if (a[0] in el.attrs) throw new Error(`repeated attribute ${a[0]} at ${i}`);
      el.attrs[a[0]] = decode(xml.slice(i + 1, end), i);
      i = end + 1;
    }
    for (;;) {
      if (i >= xml.length) throw new Error(`unclosed <${el.name}>`);
      if (xml.startsWith("</", i)) {
        i += 2;
        const c = NAME.exec(xml.slice(i));
        if (c === null || c[0] !== el.name) throw new Error(`</${c?.[0]}> closes <${el.name}> at ${i}`);
        i += c[0].length;
        skipWs();
        if (xml[i] !== ">") throw new Error(`expected ">" at ${i}`);
        i++;
        return el;
      }
      if (xml.startsWith("<!--", i) || xml.startsWith("<?", i)) {
        skipMisc();
        continue;
      }
      if (xml.startsWith("<![CDATA[", i)) {
        const end = xml.indexOf("]]>", i);
        if (end < 0) throw new Error("unterminated CDATA");
        el.text += xml.slice(i + 9, end);
        i = end + 3;
        continue;
      }
      if (xml[i] === "<") {
        el.children.push(element());
        continue;
      }
      const next = xml.indexOf("<", i);
      const end = next < 0 ? xml.length : next;
      el.text += decode(xml.slice(i, end), i);
      i = end;
    }
  };
  if (xml.charCodeAt(0) === 0xfeff) i = 1;
  skipMisc();
  const root = element();
  skipMisc();
  if (i !== xml.length) throw new Error(`content after the root element at ${i}`);
  return root;
}

/** Every element named `name` under `el`, depth first. */
export function findAll(el: XmlElement, name: string): XmlElement[] {
  const out: XmlElement[] = [];
  const walk = (e: XmlElement) => {
    for (const c of e.children) {
      if (c.name === name) out.push(c);
      walk(c);
    }
  };
  walk(el);
  return out;
}
