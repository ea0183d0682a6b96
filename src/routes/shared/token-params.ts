/** Params of a page behind an emailed link; the token's shape is checked by the service (404). */
export const tokenParams = { params: { type: 'object', properties: { token: { type: 'string', maxLength: 100 } }, required: ['token'] } }
