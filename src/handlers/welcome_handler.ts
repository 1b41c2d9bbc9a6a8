import type { Handler } from "../http/handler.ts";
import { HttpResponse } from "../http/message.ts";
import type { HeapType } from "../heap/heap_type.ts";
import { VERSION } from "../version.ts";

const PAGE = `<!DOCTYPE html>
<html lang="en">
<head><meta charset="utf-8"><title>ig</title></head>
<body>
<h1>ig ${VERSION} is running</h1>
<p>This is the welcome page of the gateway. No route matched this request.</p>
<p>Add route files to <code>config/routes/</code> in the instance directory; they are picked up without a restart.</p>
</body>
</html>
`;

/**
 * Serves the welcome page (the default answer to GET / when no route matches).
 * @example {"type": "WelcomeHandler"}
 */
export const welcomeHandlerType: HeapType<Handler> = {
  name: "WelcomeHandler",
  kind: "Handler",
  create() {
    return {
      handle: () => {
        const r = new HttpResponse(200, { entity: PAGE });
        r.headers.put("Content-Type", "text/html; charset=UTF-8");
        return Promise.resolve(r);
      },
    };
  },
};
