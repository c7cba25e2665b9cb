#!/usr/bin/env node
// Runs a command with the environment Dawn's Node bindings need on a machine without a GPU:
// the Vulkan loader and SwiftShader ICD that Debian's chromium ships. On a machine with a real
// GPU and its own Vulkan driver, leave VK_ICD_FILENAMES set (or set QP_NATIVE_VULKAN=1) to use it.
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';

const env = { ...process.env };
const chromiumLib = '/usr/lib/chromium';
if (!env.QP_NATIVE_VULKAN) {
  if (!env.VK_ICD_FILENAMES && existsSync(`${chromiumLib}/vk_swiftshader_icd.json`)) {
    env.VK_ICD_FILENAMES = `${chromiumLib}/vk_swiftshader_icd.json`;
  }
  if (existsSync(`${chromiumLib}/libvulkan.so.1`)) {
    env.LD_LIBRARY_PATH = [chromiumLib, env.LD_LIBRARY_PATH].filter(Boolean).join(':');
  }
}
const [cmd, ...args] = process.argv.slice(2);
if (!cmd) {
  console.error('usage: gpu-env.mjs <command> [args…]');
  process.exit(2);
}
const child = spawn(cmd, args, { env, stdio: 'inherit', shell: false });
child.on('exit', (code, signal) => process.exit(code ?? (signal ? 1 : 0)));
