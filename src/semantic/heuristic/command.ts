import type { ActionClass } from './actions.js';

/**
 * Actions of a shell command line: each simple command (split at `;`, `&&`, `||`, `|`, newlines)
 * is classed by its program, skipping `sudo`, `env` and variable assignments.
 */
const PROGRAMS: Record<string, ActionClass> = {};
const add = (cls: ActionClass, names: string) => names.split(' ').forEach((n) => (PROGRAMS[n] = cls));
add(
  'delete',
  'rm rmdir shred dd mkfs truncate kill pkill killall shutdown reboot halt poweroff wipefs unlink',
);
add('modify', 'mv cp chmod chown chgrp sed tee ln vim vi nano crontab iptables ufw systemctl service mount');
add(
  'read',
  'cat ls grep egrep find head tail less more du df ps top echo pwd cd whoami date stat file wc diff which ' +
    'uname id env printenv history git-log curl wget ping dig nslookup tree locate awk sort uniq cut ' +
    'uptime free lsof netstat ss journalctl dmesg vmstat iostat hostname nproc lscpu last w who top htop',
);
add('send', 'scp rsync nc netcat ftp sftp sendmail mail mutt ssh');
add('execute', 'sh bash zsh python python3 node perl ruby php source exec eval make docker kubectl');
add('grant', 'useradd usermod passwd visudo adduser gpasswd');

/** Installers: `<program> install ...` runs code from a package registry or URL. */
const INSTALLERS = new Set([
  'pip',
  'pip3',
  'npm',
  'pnpm',
  'yarn',
  'apt',
  'apt-get',
  'yum',
  'dnf',
  'brew',
  'gem',
  'cargo',
  'go',
]);

/** Action classes of a command line; empty when no program is recognised. */
export function commandActions(command: string): Set<ActionClass> {
  const out = new Set<ActionClass>();
  for (const simple of command.split(/;|&&|\|\||[|\n`]|\$\(/)) {
    const tokens = simple.trim().split(/\s+/).filter(Boolean);
    while (
      tokens.length > 0 &&
      /^(sudo|env|nohup|time|exec|command|[A-Z_][A-Z0-9_]*=.*)$/.test(tokens[0] as string)
    ) {
      tokens.shift();
    }
    const program = (tokens[0] ?? '').replace(/^.*\//, '').toLowerCase();
    const sub = (tokens[1] ?? '').toLowerCase();
    if (program === '') continue;
    if (/(^|[^2&>])>>?\s*[\w~/.$]/.test(simple)) out.add('modify'); // output redirected into a file
    if (INSTALLERS.has(program)) out.add(sub === 'uninstall' || sub === 'remove' ? 'delete' : 'execute');
    else if (program === 'git') out.add(gitAction(sub, tokens));
    else if (
      /^(curl|wget)$/.test(program) &&
      /\s(-d|--data|-F|--form|-T|--upload-file|-X\s*(POST|PUT))\b/i.test(simple)
    ) {
      out.add('send');
    } else if (program === 'systemctl' && /^(stop|disable|mask|kill)$/.test(sub)) out.add('delete');
    else if (Object.hasOwn(PROGRAMS, program)) out.add(PROGRAMS[program] as ActionClass);
  }
  return out;
}

function gitAction(sub: string, tokens: string[]): ActionClass {
  if (sub === 'push')
    return tokens.some((t) => /^(-f|--force|--delete|--mirror)$/.test(t)) ? 'delete' : 'send';
  if (sub === 'clean' || (sub === 'reset' && tokens.includes('--hard')) || sub === 'rm') return 'delete';
  if (/^(status|log|diff|show|branch|fetch|blame)$/.test(sub)) return 'read';
  if (sub === 'clone') return 'create';
  return 'modify';
}
