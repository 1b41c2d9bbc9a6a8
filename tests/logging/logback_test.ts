import { deepEqual, equal } from "node:assert/strict";
import { parseLogback } from "../../src/logging/logback.ts";

Deno.test("parseLogback reads the root level and logger levels", () => {
  const r = parseLogback(`<configuration>
    <!-- <root level="TRACE"/> -->
    <appender name="C" class="ch.qos.logback.core.ConsoleAppender"/>
    <logger name="org.forgerock.openig.handler.router" level="debug" />
    <logger name='org.forgerock.openig.el' level='OFF'/>
    <root level="WARN"><appender-ref ref="C"/></root>
  </configuration>`);
  equal(r.root, "WARN");
  deepEqual(r.loggers, {
    "org.forgerock.openig.handler.router": "DEBUG",
    "org.forgerock.openig.el": "OFF",
  });
  deepEqual(r.ignored, ["appender"]);
});

Deno.test("parseLogback ignores levels it does not know", () => {
  const r = parseLogback(`<root level="LOUD"/><logger name="x" level="nope"/>`);
  equal(r.root, undefined);
  deepEqual(r.loggers, {});
});
