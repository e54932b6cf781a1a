export { parseCommand } from './parse-command.ts';
export type {
  Access,
  CommandFacts,
  IpClass,
  ParseStatus,
  PathFact,
  Redirect,
  SimpleCommand,
  UrlFact,
} from './types.ts';
