import type { Api } from '../../services/catalog/apis'
import { OPERATIONS_PER_PAGE, curlLine, referencePage, type ApiReference, type OperationView } from '../../services/catalog/openapi-reference'

/** What the reference template needs: one part of the reference, its pager, the curl line through the gateway. */
export function referenceData (gatewayUrl: string, api: Api, reference: ApiReference | null, page: number | undefined, url: string,
  curl: (op: Pick<OperationView, 'method' | 'path' | 'sampleBody'>) => string = (op) => curlLine(gatewayUrl, api.path, op)) {
  const part = reference === null ? null : referencePage(reference, page)
  return {
    api,
    reference,
    part,
    perPage: OPERATIONS_PER_PAGE,
    pageUrl: (n: number) => `${url}?page=${n}`,
    gatewayUrl,
    curl
  }
}
