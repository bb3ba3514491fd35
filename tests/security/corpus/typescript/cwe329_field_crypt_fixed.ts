import { createCipheriv, randomBytes } from "crypto";

export function encryptField(key: Buffer, value: string): string {
  const iv: Buffer = randomBytes(16);
  const cipher = createCipheriv("aes-256-cbc", key, iv);
  const salt = randomBytes(4).toString("hex");
  return iv.toString("hex") + ":" + salt + ":" + Buffer.concat([cipher.update(value, "utf8"), cipher.final()]).toString("base64");
}
