import { EL_CALL, EL_GET } from "../el/protocol.ts";

const REASONS: Record<number, string> = {
  100: "Continue",
  101: "Switching Protocols",
  102: "Processing",
  103: "Early Hints",
  200: "OK",
  201: "Created",
  202: "Accepted",
  203: "Non-Authoritative Information",
  204: "No Content",
  205: "Reset Content",
  206: "Partial Content",
  300: "Multiple Choices",
  301: "Moved Permanently",
  302: "Found",
  303: "See Other",
  304: "Not Modified",
  305: "Use Proxy",
  307: "Temporary Redirect",
  308: "Permanent Redirect",
  400: "Bad Request",
  401: "Unauthorized",
  402: "Payment Required",
  403: "Forbidden",
  404: "Not Found",
  405: "Method Not Allowed",
  406: "Not Acceptable",
  407: "Proxy Authentication Required",
  408: "Request Timeout",
  409: "Conflict",
  410: "Gone",
  411: "Length Required",
  412: "Precondition Failed",
  413: "Payload Too Large",
  414: "URI Too Long",
  415: "Unsupported Media Type",
  416: "Range Not Satisfiable",
  417: "Expectation Failed",
  418: "I'm a teapot",
  422: "Unprocessable Entity",
  426: "Upgrade Required",
  428: "Precondition Required",
  429: "Too Many Requests",
  431: "Request Header Fields Too Large",
  500: "Internal Server Error",
  501: "Not Implemented",
  502: "Bad Gateway",
  503: "Service Unavailable",
  504: "Gateway Timeout",
  505: "HTTP Version Not Supported",
};

/** The standard reason phrase of a status code, or "" when it has none. */
export function standardReason(code: number): string {
  return REASONS[code] ?? "";
}

const FAMILIES = [
  "UNKNOWN",
  "INFORMATIONAL",
  "SUCCESSFUL",
  "REDIRECTION",
  "CLIENT_ERROR",
  "SERVER_ERROR",
];

/** An HTTP status as IG's Status object shows it to expressions. */
export class Status {
  constructor(readonly code: number, readonly reasonPhrase: string = standardReason(code)) {}

  get family(): string {
    return FAMILIES[Math.floor(this.code / 100)] ?? "UNKNOWN";
  }
  get isInformational(): boolean {
    return this.code >= 100 && this.code < 200;
  }
  get isSuccessful(): boolean {
    return this.code >= 200 && this.code < 300;
  }
  get isRedirection(): boolean {
    return this.code >= 300 && this.code < 400;
  }
  get isClientError(): boolean {
    return this.code >= 400 && this.code < 500;
  }
  get isServerError(): boolean {
    return this.code >= 500 && this.code < 600;
  }

  toString(): string {
    return `[Status: ${this.code} ${this.reasonPhrase}]`;
  }

  toJSON(): { code: number; reason: string } {
    return { code: this.code, reason: this.reasonPhrase };
  }

  [EL_GET](key: string): unknown {
    switch (key) {
      case "code":
      case "reasonPhrase":
      case "family":
      case "isInformational":
      case "isSuccessful":
      case "isRedirection":
      case "isClientError":
      case "isServerError":
        return this[key];
      default:
        return undefined;
    }
  }

  [EL_CALL](method: string): unknown {
    if (method === "toString") return this.toString();
    if (method === "getCode") return this.code;
    return undefined;
  }

  static readonly OK = new Status(200);
  static readonly FOUND = new Status(302);
  static readonly BAD_REQUEST = new Status(400);
  static readonly UNAUTHORIZED = new Status(401);
  static readonly FORBIDDEN = new Status(403);
  static readonly NOT_FOUND = new Status(404);
  static readonly INTERNAL_SERVER_ERROR = new Status(500);
  static readonly BAD_GATEWAY = new Status(502);
}
