// html-encoding-sniffer 7 ships no types (and @types/html-encoding-sniffer describes version 3).
declare module 'html-encoding-sniffer' {
  interface SniffOptions {
    /** XML sniffing (an XML declaration) instead of HTML's. @default false */
    xml?: boolean;
    /** The label from the transport layer (a Content-Type's charset): it overrides all but a BOM. */
    transportLayerEncodingLabel?: string;
    /** When nothing names an encoding. @default 'windows-1252' (HTML) */
    defaultEncoding?: string;
    /** Bytes the `<meta>` prescan reads. @default 1024 */
    maxPrescanBytes?: number;
  }
  /** The encoding's canonical name (e.g. "UTF-8", "windows-1252", "EUC-KR"), by the HTML Standard's sniffing algorithm. */
  function sniffHtmlEncoding(bytes: Uint8Array, options?: SniffOptions): string;
  export = sniffHtmlEncoding;
}
