// The dashboard's side of the control API's token. A browser cannot put an Authorization header
// on a page load, so the link the CLI prints carries the token in the URL's fragment
// (`/#token=…`), which browsers never send to a server, nor in a Referer. The page (app.js)
// moves it at once into sessionStorage, strips it from the address bar, and sends it as
// `Authorization: Bearer …` on every request; the API reads the token from that header only.

export const TOKEN_FRAGMENT = 'token'

/** The link that opens the dashboard with its token (the page moves it out of the address bar at once). */
export function dashboardUrl (apiUrl: string, token?: string): string {
  const base = `${apiUrl.replace(/\/+$/, '')}/`
  return token === undefined || token === '' ? base : `${base}#${TOKEN_FRAGMENT}=${encodeURIComponent(token)}`
}
