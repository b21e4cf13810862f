#!/usr/bin/env node
import { run } from './main.js';

run(['gateway', ...process.argv.slice(2)]);
