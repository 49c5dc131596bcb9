// Reads the fixtures copied into test/fixtures (made with Hugging Face tools; see test/fixtures/README.md).
import { readFileSync } from "node:fs";
import { SafetensorsFile } from "../../src/io/safetensors.ts";

export const FIXTURES = new URL("../fixtures/", import.meta.url);

export function fixturePath(rel: string): string {
  return new URL(rel, FIXTURES).pathname;
}

export function readSafetensorsFixture(rel: string): SafetensorsFile {
  return SafetensorsFile.parse(readFileSync(new URL(rel, FIXTURES)), rel);
}

export function readJsonFixture<T = unknown>(rel: string): T {
  return JSON.parse(readFileSync(new URL(rel, FIXTURES), "utf8")) as T;
}
