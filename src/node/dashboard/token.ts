import type { IncomingMessage } from 'node:http'

// The hook between the dashboard and the control API's token (issue 7): a browser cannot set
// an Authorization header on a page load or on an EventSource, so besides
// `Authorization: Bearer <token>` a request may carry the token as `?token=` (the link the
// CLI prints, and the dashboard's EventSource URL) or in the `meshwork_token` cookie that the
// page sets for itself (SameSite=Strict, so no other site's request carries it).
// The token check calls this to read whatever a request presents; it decides nothing itself.

export const TOKEN_COOKIE = 'meshwork_token'
export const TOKEN_QUERY = 'token'

export function tokenFromRequest (req: Pick<IncomingMessage, 'headers'>, query: URLSearchParams): string | undefined {
  const auth = req.headers.authorization
  if (typeof auth === 'string') {
    const m = /^Bearer\s+(\S+)\s*$/i.exec(auth)
    if (m !== null) return m[1]
  }
  const fromQuery = query.get(TOKEN_QUERY)
  if (fromQuery !== null && fromQuery !== '') return fromQuery
  const cookie = req.headers.cookie
  if (typeof cookie === 'string') {
    for (const part of cookie.split(';')) {
      const eq = part.indexOf('=')
      if (eq < 0 || part.slice(0, eq).trim() !== TOKEN_COOKIE) continue
      try {
        const value = decodeURIComponent(part.slice(eq + 1).trim())
        if (value !== '') return value
      } catch { /* a malformed cookie is no token */ }
    }
  }
  return undefined
}

/** The link that opens the dashboard with its token (the page moves it out of the address bar at once). */
export function dashboardUrl (apiUrl: string, token?: string): string {
  const base = `${apiUrl.replace(/\/+$/, '')}/`
  return token === undefined || token === '' ? base : `${base}?${TOKEN_QUERY}=${encodeURIComponent(token)}`
}
