import MarkdownIt from 'markdown-it'

/**
 * Descriptions in an OpenAPI document are CommonMark (GitHub's adds tables and alerts). They are
 * drawn here, on the server, once when the document is saved: raw HTML is off (shown as text),
 * links lead only to http(s), mailto or a place in the page, and images become links (a page of
 * ours never loads a picture from elsewhere).
 */
const md = new MarkdownIt('default', { html: false, linkify: false, typographer: false })

const SAFE_LINK = /^(?:https?:|mailto:|#)/i
md.validateLink = (url: string): boolean => SAFE_LINK.test(url.trim()) && !/[\u0000-\u001f]/.test(url)

// An image is shown as a link to it, its alternative text as the link's text.
md.renderer.rules.image = (tokens, idx, _options, _env, self) => {
  const token = tokens[idx]
  const src = token.attrGet('src') ?? ''
  const alt = self.renderInlineAsText(token.children ?? [], _options, _env)
  const label = md.utils.escapeHtml(alt === '' ? 'image' : alt)
  return src === '' ? label : `<a href="${md.utils.escapeHtml(src)}">${label} (image)</a>`
}

// A code block may scroll sideways: keyboard users can reach it to scroll.
for (const rule of ['fence', 'code_block'] as const) {
  const draw = md.renderer.rules[rule]
  if (draw !== undefined) md.renderer.rules[rule] = (tokens, idx, options, env, self) => draw(tokens, idx, options, env, self).replace(/^<pre>/, '<pre tabindex="0">')
}

// Links to elsewhere leave no trail to the page they came from.
const defaultLinkOpen = md.renderer.rules.link_open ?? ((tokens, idx, options, _env, self) => self.renderToken(tokens, idx, options))
md.renderer.rules.link_open = (tokens, idx, options, env, self) => {
  const href = tokens[idx].attrGet('href') ?? ''
  if (!href.startsWith('#')) tokens[idx].attrSet('rel', 'noopener noreferrer nofollow')
  return defaultLinkOpen(tokens, idx, options, env, self)
}

const ALERTS: Record<string, string> = { NOTE: 'Note', TIP: 'Tip', IMPORTANT: 'Important', WARNING: 'Warning', CAUTION: 'Caution' }

// GitHub's alerts: a block quote whose first line is [!NOTE], [!TIP], [!IMPORTANT], [!WARNING] or [!CAUTION].
md.core.ruler.after('inline', 'github-alerts', (state) => {
  const tokens = state.tokens
  for (let i = 0; i < tokens.length - 2; i++) {
    if (tokens[i].type !== 'blockquote_open' || tokens[i + 1].type !== 'paragraph_open' || tokens[i + 2].type !== 'inline') continue
    const inline = tokens[i + 2]
    const match = /^\[!(NOTE|TIP|IMPORTANT|WARNING|CAUTION)\][ \t]*(?:\n|$)/i.exec(inline.content)
    if (match === null) continue
    const kind = match[1].toUpperCase()
    tokens[i].attrSet('class', `md-alert md-alert-${kind.toLowerCase()}`)
    const first = inline.children?.[0]
    if (first !== undefined && first.type === 'text') {
      first.content = first.content.replace(/^\[![A-Za-z]+\][ \t]*/, '')
      // The line break after the marker goes too.
      if (first.content === '' && inline.children?.[1]?.type === 'softbreak') inline.children.splice(0, 2)
    }
    const title = new state.Token('html_inline', '', 0)
    title.content = `<strong class="md-alert-title">${ALERTS[kind]}</strong> `
    inline.children?.unshift(title)
  }
})

/** A description drawn as HTML (safe to place in a page as it is). Blank text is blank. */
export function markdownHtml (text: string): string {
  if (text.trim() === '') return ''
  return md.render(text)
}

/** The first paragraph of a description, as plain text (for the catalog). */
export function firstParagraph (text: string, max = 300): string {
  const tokens = md.parse(text, {})
  const inline = tokens.find((t, i) => t.type === 'inline' && tokens[i - 1]?.type === 'paragraph_open')
  const plain = (inline?.children ?? []).filter((c) => c.type === 'text' || c.type === 'code_inline').map((c) => c.content).join('').replace(/\s+/g, ' ').trim()
  return plain.length > max ? `${plain.slice(0, max - 1)}…` : plain
}
