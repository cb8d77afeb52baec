/**
 * A minimal protocol-buffers writer — just what an ONNX ModelProto needs (protobuf encoding guide:
 * each field is a key varint `(fieldNumber << 3) | wireType` followed by its payload).
 *   wire type 0 (varint):   int32/int64/enum values, base-128 little-endian groups of 7 bits, the
 *                           high bit set on every byte but the last; negative int64 values are
 *                           written as their 64-bit two's complement (always 10 bytes).
 *   wire type 2 (length):   strings (UTF-8), bytes and embedded messages: a varint length, then the bytes.
 *   wire type 5 (fixed32):  float, 4 bytes little-endian IEEE 754.
 * Repeated scalar fields are written unpacked (one key per element): onnx.proto is proto2 and only
 * marks TensorProto's *_data fields `packed`, which this writer never uses (raw_data instead).
 */
export class ProtoWriter {
  private readonly chunks: Uint8Array[] = [];
  private length = 0;

  get byteLength(): number {
    return this.length;
  }

  private push(bytes: Uint8Array): void {
    this.chunks.push(bytes);
    this.length += bytes.length;
  }

  private rawVarint(value: number | bigint): void {
    let v = BigInt.asUintN(64, BigInt(value));
    const out: number[] = [];
    do {
      let byte = Number(v & 0x7fn);
      v >>= 7n;
      if (v !== 0n) byte |= 0x80;
      out.push(byte);
    } while (v !== 0n);
    this.push(Uint8Array.from(out));
  }

  private key(field: number, wireType: 0 | 2 | 5): void {
    this.rawVarint((field << 3) | wireType);
  }

  /** int32, int64 or enum field (wire type 0). */
  varint(field: number, value: number | bigint): this {
    if (typeof value === 'number' && !Number.isSafeInteger(value)) throw new RangeError(`protobuf: ${value} is not an integer`);
    this.key(field, 0);
    this.rawVarint(value);
    return this;
  }

  /** A float field (wire type 5). */
  float32(field: number, value: number): this {
    this.key(field, 5);
    const b = new Uint8Array(4);
    new DataView(b.buffer).setFloat32(0, value, true);
    this.push(b);
    return this;
  }

  bytes(field: number, value: Uint8Array): this {
    this.key(field, 2);
    this.rawVarint(value.length);
    this.push(value);
    return this;
  }

  string(field: number, value: string): this {
    return this.bytes(field, new TextEncoder().encode(value));
  }

  /** An embedded message; its chunks are shared, not copied, until `finish`. */
  message(field: number, value: ProtoWriter): this {
    this.key(field, 2);
    this.rawVarint(value.length);
    for (const c of value.chunks) this.push(c);
    return this;
  }

  finish(): Uint8Array {
    const out = new Uint8Array(this.length);
    let at = 0;
    for (const c of this.chunks) {
      out.set(c, at);
      at += c.length;
    }
    return out;
  }
}
