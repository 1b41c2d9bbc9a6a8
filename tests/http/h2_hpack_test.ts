import { deepEqual, equal, throws } from "node:assert/strict";
import { OutBuf } from "../../src/http/h2/frames.ts";
import {
  HeaderList,
  HpackDecoder,
  HpackEncoder,
  HpackError,
  Indexing,
} from "../../src/http/h2/hpack.ts";
import {
  huffmanDecode,
  huffmanEncode,
  HuffmanError,
  huffmanLength,
  kraftSum,
} from "../../src/http/h2/huffman.ts";

const hex = (s: string) =>
  Uint8Array.from(s.replace(/\s+/g, "").match(/../g)!, (h) => parseInt(h, 16));
const toHex = (b: Uint8Array) => [...b].map((x) => x.toString(16).padStart(2, "0")).join("");
const LIMITS = { maxListSize: 1 << 20 };

function decode(dec: HpackDecoder, block: Uint8Array): [string, string][] {
  const list = new HeaderList();
  dec.decode(block, 0, block.length, list, LIMITS);
  return list.names.map((n, i) => [n, list.values[i]]);
}

function encode(enc: HpackEncoder, fields: [string, string][]): string {
  const out = new OutBuf(64);
  enc.begin(out);
  for (const [n, v] of fields) enc.encode(out, n, v, Indexing.Incremental);
  return toHex(out.buf.subarray(0, out.len));
}

// RFC 7541 Appendix C.3 / C.4: three requests on one connection.
const REQUESTS: [string, string][][] = [
  [[":method", "GET"], [":scheme", "http"], [":path", "/"], [":authority", "www.example.com"]],
  [[":method", "GET"], [":scheme", "http"], [":path", "/"], [":authority", "www.example.com"], [
    "cache-control",
    "no-cache",
  ]],
  [[":method", "GET"], [":scheme", "https"], [":path", "/index.html"], [
    ":authority",
    "www.example.com",
  ], ["custom-key", "custom-value"]],
];
const C3 = [
  "828684410f7777772e6578616d706c652e636f6d",
  "828684be58086e6f2d6361636865",
  "828785bf400a637573746f6d2d6b65790c637573746f6d2d76616c7565",
];
const C4 = [
  "828684418cf1e3c2e5f23a6ba0ab90f4ff",
  "828684be5886a8eb10649cbf",
  "828785bf408825a849e95ba97d7f8925a849e95bb8e8b4bf",
];
const C3_TABLES: [[string, string][], number][] = [
  [[[":authority", "www.example.com"]], 57],
  [[["cache-control", "no-cache"], [":authority", "www.example.com"]], 110],
  [[["custom-key", "custom-value"], ["cache-control", "no-cache"], [
    ":authority",
    "www.example.com",
  ]], 164],
];

// RFC 7541 Appendix C.5 / C.6: three responses, table size 256 (evictions).
const DATE1 = "Mon, 21 Oct 2013 20:13:21 GMT";
const DATE2 = "Mon, 21 Oct 2013 20:13:22 GMT";
const COOKIE = "foo=ASDJKHQKBZXOQWEOPIUAXQWEOIU; max-age=3600; version=1";
const RESPONSES: [string, string][][] = [
  [[":status", "302"], ["cache-control", "private"], ["date", DATE1], [
    "location",
    "https://www.example.com",
  ]],
  [[":status", "307"], ["cache-control", "private"], ["date", DATE1], [
    "location",
    "https://www.example.com",
  ]],
  [
    [":status", "200"],
    ["cache-control", "private"],
    ["date", DATE2],
    [
      "location",
      "https://www.example.com",
    ],
    ["content-encoding", "gzip"],
    ["set-cookie", COOKIE],
  ],
];
const C5 = [
  "4803333032580770726976617465611d4d6f6e2c203231204f637420323031332032303a31333a323120474d546e1768747470733a2f2f7777772e6578616d706c652e636f6d",
  "4803333037c1c0bf",
  "88c1611d4d6f6e2c203231204f637420323031332032303a31333a323220474d54c05a04677a69707738666f6f3d4153444a4b48514b425a584f5157454f50495541585157454f49553b206d61782d6167653d333630303b2076657273696f6e3d31",
];
const C6 = [
  "488264025885aec3771a4b6196d07abe941054d444a8200595040b8166e082a62d1bff6e919d29ad171863c78f0b97c8e9ae82ae43d3",
  "4883640effc1c0bf",
  "88c16196d07abe941054d444a8200595040b8166e084a62d1bffc05a839bd9ab77ad94e7821dd7f2e6c7b335dfdfcd5b3960d5af27087f3672c1ab270fb5291f9587316065c003ed4ee5b1063d5007",
];
const C5_TABLES: [[string, string][], number][] = [
  [[["location", "https://www.example.com"], ["date", DATE1], ["cache-control", "private"], [
    ":status",
    "302",
  ]], 222],
  [[[":status", "307"], ["location", "https://www.example.com"], ["date", DATE1], [
    "cache-control",
    "private",
  ]], 222],
  [[["set-cookie", COOKIE], ["content-encoding", "gzip"], ["date", DATE2]], 215],
];

for (const [name, blocks, huffman] of [["C.3", C3, false], ["C.4", C4, true]] as const) {
  Deno.test(`HPACK decodes the requests of RFC 7541 ${name}, keeping the dynamic table`, () => {
    const dec = new HpackDecoder();
    blocks.forEach((b, i) => {
      deepEqual(decode(dec, hex(b)), REQUESTS[i]);
      deepEqual(dec.table.entries(), C3_TABLES[i][0]);
      equal(dec.table.size, C3_TABLES[i][1]);
    });
  });
  Deno.test(`HPACK encodes the requests of RFC 7541 ${name} byte for byte`, () => {
    const enc = new HpackEncoder(4096, { huffman });
    blocks.forEach((b, i) => {
      equal(encode(enc, REQUESTS[i]), b);
      deepEqual(enc.table.entries(), C3_TABLES[i][0]);
      equal(enc.table.size, C3_TABLES[i][1]);
    });
  });
}

for (const [name, blocks, huffman] of [["C.5", C5, false], ["C.6", C6, true]] as const) {
  Deno.test(`HPACK decodes the responses of RFC 7541 ${name}, evicting at 256 octets`, () => {
    const dec = new HpackDecoder(256);
    blocks.forEach((b, i) => {
      deepEqual(decode(dec, hex(b)), RESPONSES[i]);
      deepEqual(dec.table.entries(), C5_TABLES[i][0]);
      equal(dec.table.size, C5_TABLES[i][1]);
    });
  });
  Deno.test(`HPACK encodes the responses of RFC 7541 ${name} byte for byte`, () => {
    const enc = new HpackEncoder(256, { huffman });
    blocks.forEach((b, i) => {
      equal(encode(enc, RESPONSES[i]), b);
      deepEqual(enc.table.entries(), C5_TABLES[i][0]);
      equal(enc.table.size, C5_TABLES[i][1]);
    });
  });
}

Deno.test("HPACK decodes the literal forms of RFC 7541 C.2", () => {
  const dec = new HpackDecoder();
  // C.2.1 literal with indexing, new name.
  deepEqual(decode(dec, hex("400a637573746f6d2d6b65790d637573746f6d2d686561646572")), [[
    "custom-key",
    "custom-header",
  ]]);
  equal(dec.table.size, 55);
  // C.2.2 without indexing; C.2.3 never indexed: the table is unchanged.
  deepEqual(decode(dec, hex("040c2f73616d706c652f70617468")), [[":path", "/sample/path"]]);
  deepEqual(decode(dec, hex("100870617373776f726406736563726574")), [["password", "secret"]]);
  equal(dec.table.count, 1);
  // C.2.4 indexed static field.
  deepEqual(decode(dec, hex("82")), [[":method", "GET"]]);
});

Deno.test("HPACK applies a table size update at the start of a block and refuses it later", () => {
  const dec = new HpackDecoder();
  decode(dec, hex(C3[0]));
  equal(dec.table.count, 1);
  deepEqual(decode(dec, hex("2082")), [[":method", "GET"]]); // size 0: table emptied
  equal(dec.table.count, 0);
  throws(() => decode(dec, hex("8220")), HpackError);
  throws(() => decode(dec, hex("3fe21f")), HpackError); // 4096 + 1 above the limit
});

Deno.test("HPACK refuses bad indexes, truncated data and huge integers", () => {
  for (const bad of ["80", "be", "41", "410f7777", "ff8080808080808001", "4085f2b24a87ff"]) {
    throws(() => decode(new HpackDecoder(), hex(bad)), HpackError, bad);
  }
});

Deno.test("HPACK drops fields past the list limit but keeps the table in step", () => {
  const dec = new HpackDecoder();
  decode(dec, hex(C3[0]));
  decode(dec, hex(C3[1]));
  const list = new HeaderList();
  const block = hex(C3[2]);
  dec.decode(block, 0, block.length, list, { maxListSize: 40 });
  equal(list.overflow, true);
  deepEqual(list.names, [":method", ":scheme", ":path"]);
  equal(dec.table.count, 3); // custom-key was still added
});

Deno.test("HPACK encoder announces a smaller table from SETTINGS before the next block", () => {
  const enc = new HpackEncoder();
  encode(enc, [["x-a", "1"]]);
  enc.setMaxTableSize(0);
  equal(encode(enc, [["x-a", "1"]]).slice(0, 2), "20");
  equal(enc.table.count, 0);
  const dec = new HpackDecoder();
  decode(dec, hex(encode(new HpackEncoder(), [["x-a", "1"]])));
});

Deno.test("HPACK encoder keeps never-indexed fields out of the table", () => {
  const enc = new HpackEncoder();
  const out = new OutBuf();
  enc.encode(out, "set-cookie", "a=b", Indexing.Never);
  equal(out.buf[0], 0x1f); // never indexed, name index 55 (15 + 40)
  equal(enc.table.count, 0);
  const dec = new HpackDecoder();
  deepEqual(decode(dec, out.buf.subarray(0, out.len)), [["set-cookie", "a=b"]]);
});

Deno.test("Huffman code is complete and round-trips every byte value", () => {
  equal(kraftSum(), 1);
  const all = Uint8Array.from({ length: 1024 }, (_, i) => (i * 37 + (i >> 8)) & 0xff);
  const enc = new Uint8Array(huffmanLength(all, 0, all.length));
  const n = huffmanEncode(all, 0, all.length, enc, 0);
  equal(n, enc.length);
  const dec = new Uint8Array(all.length * 2);
  equal(huffmanDecode(enc, 0, n, dec), all.length);
  deepEqual(dec.subarray(0, all.length), all);
});

Deno.test("Huffman decoding refuses bad padding and EOS", () => {
  throws(() => huffmanDecode(hex("00"), 0, 1, new Uint8Array(8)), HuffmanError); // '0' + 000 padding
  throws(() => huffmanDecode(hex("1fff"), 0, 2, new Uint8Array(8)), HuffmanError); // 'a'+ 8+ bits
  throws(() => huffmanDecode(hex("ffffffff"), 0, 4, new Uint8Array(8)), HuffmanError); // EOS
  equal(huffmanDecode(hex("1f"), 0, 1, new Uint8Array(8)), 1); // 'a' + 111
});
