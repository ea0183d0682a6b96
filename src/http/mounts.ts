/** Where the management API is mounted: the portal links to it and draws its reference. */
export const API_PREFIX = '/api/v1'
