export * from "./errors.js";
export * from "./keyring.js";
export * from "./envelope.js";
export * from "./cbor.js";
export * from "./frame.js";
export * from "./packer.js";
export * from "./validate.js";
export * from "./replay.js";
