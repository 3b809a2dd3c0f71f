// The dashboard's side of the control API's token (issue 7): a browser cannot set an
// Authorization header on a page load or on an EventSource, so the link the CLI prints carries
// the token as `?token=`, and the page then sends it as a header or in the `meshwork_token`
// cookie. Which of these a request presents is read in one place: presentedToken in
// src/security/api-token.ts, which the API's token check calls.

export const TOKEN_QUERY = 'token'

/** The link that opens the dashboard with its token (the page moves it out of the address bar at once). */
export function dashboardUrl (apiUrl: string, token?: string): string {
  const base = `${apiUrl.replace(/\/+$/, '')}/`
  return token === undefined || token === '' ? base : `${base}?${TOKEN_QUERY}=${encodeURIComponent(token)}`
}
