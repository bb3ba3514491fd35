import { createCipheriv, randomBytes } from "crypto";

const FIELD_IV: Buffer = Buffer.from("00000000000000000000000000000000", "hex");

export function encryptField(key: Buffer, value: string): string {
  const cipher = createCipheriv("aes-256-cbc", key, FIELD_IV);
  const salt = randomBytes(4).toString("hex");
  return salt + ":" + Buffer.concat([cipher.update(value, "utf8"), cipher.final()]).toString("base64");
}
