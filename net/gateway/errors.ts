/** The gateway's refusals: an HTTP status and a stable code (docs/gateway.md, "Errors"). */
import { IcnError } from "../../core/errors.ts";

/** An error the gateway answers with `status` and a stable `code`. */
export class GatewayError extends IcnError {
  readonly status: 400 | 401 | 403 | 404 | 409 | 413 | 415 | 422 | 429 | 499 | 503;
  readonly headers: Record<string, string>;
  constructor(
    status: GatewayError["status"],
    code: string,
    message: string,
    headers: Record<string, string> = {},
  ) {
    super(code, message);
    this.name = "GatewayError";
    this.status = status;
    this.headers = headers;
  }
}
