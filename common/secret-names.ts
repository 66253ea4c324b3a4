/** Variable names that look like they hold a secret: the companion job redacts their values, a catalog may refuse them as overrides. */
export const secretNamePattern = /TOKEN|SECRET|PASSWORD|KEY|CREDENTIAL/i

export const looksSecret = (name: string): boolean => secretNamePattern.test(name)
