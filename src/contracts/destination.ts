/**
 * A PACS that results may go to besides the source (the rules file's `destinations`): read by
 * rules/, used by the worker to store there. Credentials are named by environment variable only.
 */
export interface Destination {
  name: string;
  url: string;
  usernameEnv?: string;
  passwordEnv?: string;
}
