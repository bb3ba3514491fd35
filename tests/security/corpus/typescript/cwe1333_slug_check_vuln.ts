const SLUG = /^([a-z0-9]+-?)+$/;

export function isSlug(candidate: string): boolean {
  return SLUG.test(candidate);
}
