#!/usr/bin/env node
import { run } from './main.js';

run(['sidecar', ...process.argv.slice(2)]);
