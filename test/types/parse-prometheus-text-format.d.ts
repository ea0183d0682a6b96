// parse-prometheus-text-format ships no types: what the metrics test reads of its result.
declare module 'parse-prometheus-text-format' {
  interface Sample { value?: string, labels?: Record<string, string>, buckets?: Record<string, string>, count?: string, sum?: string }
  interface Family { name: string, help: string, type: string, metrics: Sample[] }
  function parsePrometheusTextFormat (text: string): Family[]
  export = parsePrometheusTextFormat
}
