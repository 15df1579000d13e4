/**
 * A strict subset unpickler for torch state dicts. It never imports or calls anything: the only globals it
 * accepts are an allow-list of names it knows the meaning of, and REDUCE is interpreted for those alone.
 * Any other global or opcode is an error. Each opcode consumes at least one byte and every length is checked
 * against what is left, so work is linear in the input.
 */

/** A global on the allow-list, as an opaque marker (never resolved to anything callable). */
export class PickleGlobal {
  constructor(
    readonly module: string,
    readonly name: string,
  ) {}
}

/** `collections.OrderedDict()` (a Map; kept apart from plain dicts so BUILD of its `_metadata` can be allowed). */
export class PickleOrderedDict extends Map<PickleValue, PickleValue> {}

/** A BINPERSID storage reference: `('storage', torch.<X>Storage, key, location, numel)`. */
export interface StorageRef {
  readonly kind: "storage";
  /** e.g. "HalfStorage". */
  readonly storageClass: string;
  /** The zip entry is `<top>/data/<key>`. */
  readonly key: string;
  readonly location: string;
  /** In elements. */
  readonly numel: number;
}

/** `torch._utils._rebuild_tensor_v2(storage, offset, size, stride, …)`; offset and strides in elements. */
export interface TensorRef {
  readonly kind: "tensor";
  readonly storage: StorageRef;
  readonly storageOffset: number;
  readonly shape: readonly number[];
  readonly stride: readonly number[];
}

/** Lists are arrays, tuples frozen arrays, dicts Maps. */
export type PickleValue =
  | null
  | boolean
  | number
  | bigint
  | string
  | Uint8Array
  | PickleValue[]
  | readonly PickleValue[]
  | Map<PickleValue, PickleValue>
  | PickleGlobal
  | StorageRef
  | TensorRef;

export const STORAGE_CLASSES = ["FloatStorage", "HalfStorage", "BFloat16Storage", "DoubleStorage", "LongStorage", "IntStorage", "ShortStorage", "CharStorage", "ByteStorage", "BoolStorage"] as const;

const ALLOWED_GLOBALS = new Set(["collections.OrderedDict", "torch._utils._rebuild_tensor_v2", "torch._utils._rebuild_parameter", ...STORAGE_CLASSES.map((s) => `torch.${s}`)]);

const MARK = Symbol("mark");
type StackItem = PickleValue | typeof MARK;

const isTuple = (v: unknown): v is readonly PickleValue[] => Array.isArray(v) && Object.isFrozen(v);
const isList = (v: unknown): v is PickleValue[] => Array.isArray(v) && !Object.isFrozen(v);
const isStorage = (v: unknown): v is StorageRef => typeof v === "object" && v !== null && (v as { kind?: unknown }).kind === "storage";
const isTensor = (v: unknown): v is TensorRef => typeof v === "object" && v !== null && (v as { kind?: unknown }).kind === "tensor";
const isCount = (v: unknown): v is number => typeof v === "number" && Number.isSafeInteger(v) && v >= 0;

const utf8 = new TextDecoder("utf-8", { fatal: true });

/**
 * Unpickles `data`. `what` names the source (file and entry) in every error message.
 * Returns descriptors (`TensorRef`, `StorageRef`) for tensors; their bytes are the caller's business.
 */
export function unpickle(data: Uint8Array, what: string): PickleValue {
  const buf = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  const fail = (message: string): never => {
    throw new Error(`${what}: ${message}`);
  };
  let pos = 0;
  let opAt = 0;
  const stack: StackItem[] = [];
  const markStack: number[] = [];
  const memo = new Map<number, PickleValue>();

  const need = (n: number): void => {
    if (!Number.isSafeInteger(n) || n < 0 || pos + n > buf.length) fail(`pickle wants ${n} bytes at byte ${pos}, only ${buf.length - pos} are left (truncated or corrupt)`);
  };
  const bytes = (n: number): Buffer => {
    need(n);
    pos += n;
    return buf.subarray(pos - n, pos);
  };
  const u8 = (): number => bytes(1)[0];
  const u16 = (): number => bytes(2).readUInt16LE(0);
  const u32 = (): number => bytes(4).readUInt32LE(0);
  const u64 = (): number => {
    const v = bytes(8).readBigUInt64LE(0);
    return v > BigInt(buf.length) ? fail(`pickle length ${v} at byte ${pos - 8} is beyond the ${buf.length}-byte buffer`) : Number(v);
  };
  const text = (raw: Buffer): string => {
    try {
      return utf8.decode(raw);
    } catch {
      return fail(`invalid UTF-8 in a pickle string before byte ${pos}`);
    }
  };
  const line = (): string => {
    const end = buf.indexOf(0x0a, pos);
    if (end < 0) fail(`unterminated pickle GLOBAL name at byte ${pos}`);
    const s = buf.toString("latin1", pos, end);
    pos = end + 1;
    return s;
  };

  const push = (v: PickleValue): void => void stack.push(v);
  const pop = (): PickleValue => {
    const v = stack.length ? stack.pop()! : MARK;
    return v === MARK ? fail(`pickle stack underflow (or MARK used as a value) at byte ${opAt}`) : v;
  };
  const top = (): PickleValue => {
    const v = stack.length ? stack[stack.length - 1] : MARK;
    return v === MARK ? fail(`pickle stack empty at byte ${opAt}`) : v;
  };
  /** The items since the last MARK, which is removed. */
  const popMark = (): PickleValue[] => {
    const m = markStack.pop();
    if (m === undefined) fail(`pickle opcode at byte ${opAt} needs a MARK`);
    return stack.splice(m!).slice(1) as PickleValue[];
  };
  const tuple = (items: PickleValue[]): readonly PickleValue[] => Object.freeze(items);
  const memoGet = (i: number): PickleValue => (memo.has(i) ? memo.get(i)! : fail(`pickle memo ${i} is not set (byte ${opAt})`));
  const setItems = (dict: PickleValue, items: PickleValue[]): void => {
    if (!(dict instanceof Map)) fail(`pickle SETITEM(S) on a non-dict at byte ${opAt}`);
    if (items.length % 2) fail(`pickle SETITEMS with an odd item count at byte ${opAt}`);
    for (let i = 0; i < items.length; i += 2) (dict as Map<PickleValue, PickleValue>).set(items[i], items[i + 1]);
  };
  const appendItems = (list: PickleValue, items: PickleValue[]): void => {
    if (!isList(list)) fail(`pickle APPEND(S) on a non-list at byte ${opAt}`);
    for (const item of items) (list as PickleValue[]).push(item); // not push(...items): a long APPENDS would overflow the call stack
  };
  const global = (module: string, name: string): PickleGlobal => {
    const full = `${module}.${name}`;
    if (!ALLOWED_GLOBALS.has(full)) fail(`refusing pickle global ${full} ("${module} ${name}") at byte ${opAt}: only ${[...ALLOWED_GLOBALS].join(", ")} are allowed (nothing was run)`);
    return new PickleGlobal(module, name);
  };

  const reduce = (callable: PickleValue, args: PickleValue): PickleValue => {
    if (!(callable instanceof PickleGlobal) || !isTuple(args)) return fail(`pickle REDUCE of a non-global or without an argument tuple at byte ${opAt}`);
    const full = `${callable.module}.${callable.name}`;
    if (full === "collections.OrderedDict") {
      // torch pickles OrderedDict() empty and fills it with SETITEMS.
      if (args.length) fail(`collections.OrderedDict with arguments at byte ${opAt}`);
      return new PickleOrderedDict();
    }
    if (full === "torch._utils._rebuild_tensor_v2") {
      // (storage, storage_offset, size, stride, requires_grad, backward_hooks[, metadata])
      const [storage, offset, size, stride, requiresGrad] = args;
      if (args.length < 6 || args.length > 7 || !isStorage(storage) || !isCount(offset) || !isTuple(size) || !isTuple(stride) || typeof requiresGrad !== "boolean")
        return fail(`malformed _rebuild_tensor_v2 arguments at byte ${opAt}`);
      if (!size.every(isCount) || !stride.every(isCount) || size.length !== stride.length) return fail(`_rebuild_tensor_v2 with bad size/stride (${String(size)} / ${String(stride)}) at byte ${opAt}`);
      return { kind: "tensor", storage, storageOffset: offset, shape: size as number[], stride: stride as number[] };
    }
    if (full === "torch._utils._rebuild_parameter") {
      // (data, requires_grad, backward_hooks): a Parameter is its tensor here.
      if (args.length !== 3 || !isTensor(args[0])) return fail(`malformed _rebuild_parameter arguments at byte ${opAt}`);
      return args[0];
    }
    return fail(`pickle REDUCE of ${full} is not supported (byte ${opAt})`);
  };

  for (;;) {
    opAt = pos;
    const op = u8();
    switch (op) {
      case 0x80: { // PROTO
        const v = u8();
        if (v > 5) fail(`pickle protocol ${v} is not supported`);
        break;
      }
      case 0x95: // FRAME: framing is only a read-ahead hint
        u64();
        break;
      case 0x2e: // STOP
        return pop();
      case 0x28: // MARK
        markStack.push(stack.length);
        stack.push(MARK);
        break;
      case 0x7d: // EMPTY_DICT
        push(new Map());
        break;
      case 0x5d: // EMPTY_LIST
        push([]);
        break;
      case 0x29: // EMPTY_TUPLE
        push(tuple([]));
        break;
      case 0x74: // TUPLE
        push(tuple(popMark()));
        break;
      case 0x85: // TUPLE1
        push(tuple([pop()]));
        break;
      case 0x86: { // TUPLE2
        const b = pop();
        push(tuple([pop(), b]));
        break;
      }
      case 0x87: { // TUPLE3
        const c = pop();
        const b = pop();
        push(tuple([pop(), b, c]));
        break;
      }
      case 0x4e: // NONE
        push(null);
        break;
      case 0x88: // NEWTRUE
        push(true);
        break;
      case 0x89: // NEWFALSE
        push(false);
        break;
      case 0x4a: // BININT
        push(bytes(4).readInt32LE(0));
        break;
      case 0x4b: // BININT1
        push(u8());
        break;
      case 0x4d: // BININT2
        push(u16());
        break;
      case 0x8a: { // LONG1: little-endian two's complement
        const raw = bytes(u8());
        let v = 0n;
        for (let i = raw.length - 1; i >= 0; i--) v = (v << 8n) | BigInt(raw[i]);
        if (raw.length && raw[raw.length - 1] & 0x80) v -= 1n << BigInt(raw.length * 8);
        push(v >= BigInt(Number.MIN_SAFE_INTEGER) && v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v);
        break;
      }
      case 0x47: // BINFLOAT (big-endian)
        push(bytes(8).readDoubleBE(0));
        break;
      case 0x58: // BINUNICODE
        push(text(bytes(u32())));
        break;
      case 0x8c: // SHORT_BINUNICODE
        push(text(bytes(u8())));
        break;
      case 0x8d: // BINUNICODE8
        push(text(bytes(u64())));
        break;
      case 0x54: // BINSTRING (Python 2 str): latin-1, as Python 3 reads it by default
        push(bytes(bytes(4).readInt32LE(0)).toString("latin1"));
        break;
      case 0x55: // SHORT_BINSTRING
        push(bytes(u8()).toString("latin1"));
        break;
      case 0x43: // SHORT_BINBYTES
        push(Uint8Array.from(bytes(u8())));
        break;
      case 0x42: // BINBYTES
        push(Uint8Array.from(bytes(u32())));
        break;
      case 0x8e: // BINBYTES8
        push(Uint8Array.from(bytes(u64())));
        break;
      case 0x71: // BINPUT
        memo.set(u8(), top());
        break;
      case 0x72: // LONG_BINPUT
        memo.set(u32(), top());
        break;
      case 0x94: // MEMOIZE
        memo.set(memo.size, top());
        break;
      case 0x68: // BINGET
        push(memoGet(u8()));
        break;
      case 0x6a: // LONG_BINGET
        push(memoGet(u32()));
        break;
      case 0x30: // POP
        if (stack.length && stack[stack.length - 1] === MARK) popMark();
        else pop();
        break;
      case 0x31: // POP_MARK
        popMark();
        break;
      case 0x32: // DUP
        push(top());
        break;
      case 0x73: { // SETITEM
        const v = pop();
        const k = pop();
        setItems(top(), [k, v]);
        break;
      }
      case 0x75: { // SETITEMS
        const items = popMark();
        setItems(top(), items);
        break;
      }
      case 0x61: { // APPEND
        const v = pop();
        appendItems(top(), [v]);
        break;
      }
      case 0x65: { // APPENDS
        const items = popMark();
        appendItems(top(), items);
        break;
      }
      case 0x63: { // GLOBAL "module\nname\n"
        const module = line();
        push(global(module, line()));
        break;
      }
      case 0x93: { // STACK_GLOBAL
        const name = pop();
        const module = pop();
        if (typeof module !== "string" || typeof name !== "string") fail(`STACK_GLOBAL of non-strings at byte ${opAt}`);
        push(global(module as string, name as string));
        break;
      }
      case 0x52: { // REDUCE
        const args = pop();
        push(reduce(pop(), args));
        break;
      }
      case 0x62: { // BUILD: only an OrderedDict's state (torch's `_metadata` attribute), which is dropped
        pop();
        if (!(top() instanceof PickleOrderedDict)) fail(`pickle BUILD on something other than an OrderedDict at byte ${opAt}`);
        break;
      }
      case 0x51: { // BINPERSID: torch's storage reference
        const pid = pop();
        const [tag, cls, key, location, numel] = isTuple(pid) ? pid : [];
        if (!isTuple(pid) || pid.length !== 5 || tag !== "storage" || !(cls instanceof PickleGlobal) || cls.module !== "torch" || !(STORAGE_CLASSES as readonly string[]).includes(cls.name) || typeof key !== "string" || typeof location !== "string" || !isCount(numel))
          fail(`unsupported persistent id at byte ${opAt} (expected ('storage', torch.<Type>Storage, key, location, numel))`);
        push({ kind: "storage", storageClass: (cls as PickleGlobal).name, key: key as string, location: location as string, numel: numel as number });
        break;
      }
      default:
        fail(`unknown or unsupported pickle opcode 0x${op.toString(16).padStart(2, "0")} (${JSON.stringify(String.fromCharCode(op))}) at byte ${opAt}`);
    }
  }
}
