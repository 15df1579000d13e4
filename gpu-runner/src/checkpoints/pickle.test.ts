import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { PickleGlobal, PickleOrderedDict, unpickle, type TensorRef } from "./pickle.ts";
import { Pickler, stateDictPickle, type TensorSpec } from "./test-support.ts";

const SPECS: TensorSpec[] = [
  { name: "w", storageClass: "HalfStorage", key: "0", numel: 6, shape: [2, 3] },
  { name: "p", storageClass: "LongStorage", key: "1", numel: 77, shape: [1, 77], parameter: true },
  { name: "e", key: "2", numel: 4, offset: 1, shape: [3, 3], stride: [0, 1] },
];

describe("unpickle", () => {
  it("reads a torch state dict: OrderedDict of tensor descriptors, _metadata BUILD dropped", () => {
    const sd = unpickle(stateDictPickle(SPECS, { ordered: true, extras: { n: 5 } }), "t");
    expect(sd).toBeInstanceOf(PickleOrderedDict);
    const map = sd as Map<unknown, unknown>;
    expect([...map.keys()]).toEqual(["w", "p", "e", "n"]);
    expect(map.get("n")).toBe(5);
    expect(map.get("w")).toEqual({ kind: "tensor", storage: { kind: "storage", storageClass: "HalfStorage", key: "0", location: "cpu", numel: 6 }, storageOffset: 0, shape: [2, 3], stride: [3, 1] });
    expect((map.get("p") as TensorRef).storage.storageClass).toBe("LongStorage"); // _rebuild_parameter → its tensor
    expect(map.get("e")).toMatchObject({ storageOffset: 1, shape: [3, 3], stride: [0, 1] });
  });

  it("reads the scalar opcodes", () => {
    const p = new Pickler().proto(4).raw(0x95, 0, 0, 0, 0, 0, 0, 0, 0); // FRAME
    p.raw(0x5d).mark(); // EMPTY_LIST MARK
    p.raw(0x4a, 0xff, 0xff, 0xff, 0xff).raw(0x8a, 2, 0x00, 0x80).raw(0x8a, 9, 0, 0, 0, 0, 0, 0, 0, 0, 1); // BININT −1, LONG1 −32768, LONG1 2^64
    p.raw(0x47, 0x3f, 0xf8, 0, 0, 0, 0, 0, 0).raw(0x4e, 0x88, 0x89); // BINFLOAT 1.5, None, True, False
    p.raw(0x8c, 2, 0x68, 0x69).raw(0x8d, 1, 0, 0, 0, 0, 0, 0, 0, 0x7a).raw(0x55, 1, 0xe9).raw(0x54, 1, 0, 0, 0, 0x41); // 'hi' 'z' 'é' 'A'
    p.raw(0x43, 2, 1, 2).raw(0x29).raw(0x94).raw(0x30).raw(0x68, 0); // b'\x01\x02', (), MEMOIZE, POP, BINGET 0
    p.raw(0x65).raw(0x4b, 9, 0x61); // APPENDS, APPEND 9
    expect(unpickle(p.stop(), "t")).toEqual([-1, -32768, 2n ** 64n, 1.5, null, true, false, "hi", "z", "é", "A", Uint8Array.from([1, 2]), [], 9]);
  });

  it("a list of 300,000 items (APPENDS, DUP)", () => {
    const head = new Pickler().proto().raw(0x5d).mark().raw(0x4b, 1).bytes();
    const pickle = Buffer.concat([head, Buffer.alloc(299_999, 0x32), Buffer.from([0x65, 0x2e])]); // DUP ×299,999, APPENDS, STOP
    const list = unpickle(pickle, "t") as number[];
    expect([list.length, list[0], list.at(-1)]).toEqual([300_000, 1, 1]);
  });

  it("STACK_GLOBAL of an allowed name gives an opaque marker", () => {
    const p = new Pickler().proto(4).raw(0x8c, 11, ...Buffer.from("collections"), 0x8c, 11, ...Buffer.from("OrderedDict"), 0x93);
    expect(unpickle(p.stop(), "t")).toEqual(new PickleGlobal("collections", "OrderedDict"));
  });

  it.each([
    ["os", "system"],
    ["posix", "system"],
    ["builtins", "eval"],
    ["builtins", "getattr"],
    ["numpy.core.multiarray", "scalar"],
    ["pytorch_lightning.callbacks.model_checkpoint", "ModelCheckpoint"],
    ["torch", "load"],
    ["torch._utils", "_rebuild_tensor"],
  ])("refuses GLOBAL %s %s, naming it", (module, name) => {
    const pickle = new Pickler().proto().global(module, name).str("echo pwned").raw(0x85, 0x52).stop(); // TUPLE1 REDUCE
    expect(() => unpickle(pickle, "evil.bin")).toThrow(`evil.bin: refusing pickle global ${module}.${name} ("${module} ${name}") at byte 2`);
  });

  it("refuses STACK_GLOBAL of a foreign name", () => {
    const p = new Pickler().proto(4).raw(0x8c, 8, ...Buffer.from("builtins"), 0x8c, 4, ...Buffer.from("eval"), 0x93);
    expect(() => unpickle(p.stop(), "f")).toThrow("refusing pickle global builtins.eval");
  });

  it.each([
    ["an unknown opcode", new Pickler().proto().raw(0xff).stop(), "unknown or unsupported pickle opcode 0xff"],
    ["INST (protocol 0)", new Pickler().proto().raw(0x69).stop(), "opcode 0x69 (\"i\") at byte 2"],
    ["NEWOBJ", new Pickler().proto().global("collections", "OrderedDict").raw(0x29, 0x81).stop(), "opcode 0x81"],
    ["PROTO 6", new Pickler().proto(6).stop(), "pickle protocol 6"],
    ["a BINUNICODE longer than the buffer", new Pickler().proto().raw(0x58, 0xff, 0xff, 0xff, 0xff, 0x61).stop(), "pickle wants 4294967295 bytes"],
    ["a BINUNICODE8 of 2^63", new Pickler().proto().raw(0x8d, 0, 0, 0, 0, 0, 0, 0, 0x80).stop(), "pickle length 9223372036854775808"],
    ["no STOP", new Pickler().proto().raw(0x4e).bytes(), "pickle wants 1 bytes"],
    ["an empty stack at STOP", new Pickler().proto().stop(), "stack underflow"],
    ["TUPLE without MARK", new Pickler().proto().raw(0x4e, 0x74).stop(), "needs a MARK"],
    ["an unset memo", new Pickler().proto().raw(0x68, 3).stop(), "memo 3 is not set"],
    ["invalid UTF-8", new Pickler().proto().raw(0x8c, 1, 0xff).stop(), "invalid UTF-8"],
    ["REDUCE of a storage class", new Pickler().proto().global("torch", "FloatStorage").raw(0x29, 0x52).stop(), "REDUCE of torch.FloatStorage is not supported"],
    ["BUILD on a plain dict", new Pickler().proto().raw(0x7d, 0x7d, 0x62).stop(), "BUILD on something other than an OrderedDict"],
    ["a foreign persistent id", new Pickler().proto().str("module").raw(0x51).stop(), "unsupported persistent id"],
    ["a negative stride", new Pickler().proto().global("torch._utils", "_rebuild_tensor_v2").tuple((p) => p.tuple((q) => q.str("storage").global("torch", "FloatStorage").str("0").str("cpu").int(4)).raw(0x51).int(0).ints([2]).ints([-1]).bool(false).orderedDict()).raw(0x52).stop(), "bad size/stride"],
  ])("refuses %s", (_, pickle, message) => {
    expect(() => unpickle(pickle, "x.bin")).toThrow(message);
  });

  it("fuzz: mutated and truncated pickles parse or throw an Error, never hang", () => {
    const base = stateDictPickle(SPECS, { ordered: true, wrapped: true, extras: { n: 5 } });
    const mutation = fc.record({ at: fc.nat(base.length - 1), byte: fc.integer({ min: 0, max: 255 }) });
    fc.assert(
      fc.property(fc.array(mutation, { minLength: 1, maxLength: 8 }), fc.oneof(fc.constant(base.length), fc.nat(base.length)), (mutations, length) => {
        const bytes = Buffer.from(base.subarray(0, Math.max(length, 1)));
        for (const m of mutations) if (m.at < bytes.length) bytes[m.at] = m.byte;
        try {
          unpickle(bytes, "fuzz");
        } catch (e) {
          expect(e).toBeInstanceOf(Error);
          expect((e as Error).message.startsWith("fuzz: ")).toBe(true);
        }
      }),
      { numRuns: 300 },
    );
  });
});
