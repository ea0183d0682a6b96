/**
 * The portal's cookies. The portal sets them; the gateway strips them from every call it forwards
 * (a backend on the portal's domain must never see a session).
 */
export const SESSION_COOKIE = 'portico_session'
export const CSRF_COOKIE = 'portico_csrf'
