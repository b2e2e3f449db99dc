/**
 * A compose `command:` written as one string, split into words the way Compose does (shell
 * quoting, no expansion): spaces separate words, single quotes keep everything, double quotes
 * keep everything but `\"` and `\\`, a backslash outside quotes escapes the next character.
 * Pure.
 */

/** The words, or undefined when a quote is not closed (or the string ends in a lone backslash). */
export function splitShellWords(s: string): string[] | undefined {
    const words: string[] = [];
    let word = "";
    let inWord = false;
    for (let i = 0; i < s.length; i++) {
        const ch = s[i];
        if (ch === " " || ch === "\t" || ch === "\n") {
            if (inWord) words.push(word);
            word = "";
            inWord = false;
            continue;
        }
        inWord = true;
        if (ch === "\\") {
            if (i + 1 >= s.length) return undefined;
            word += s[++i];
        } else if (ch === "'") {
            const end = s.indexOf("'", i + 1);
            if (end < 0) return undefined;
            word += s.slice(i + 1, end);
            i = end;
        } else if (ch === '"') {
            let j = i + 1;
            for (; j < s.length && s[j] !== '"'; j++) {
                if (s[j] === "\\" && (s[j + 1] === '"' || s[j + 1] === "\\")) j++;
                word += s[j];
            }
            if (j >= s.length) return undefined;
            i = j;
        } else word += ch;
    }
    if (inWord) words.push(word);
    return words;
}
