/** What an SVG that mermaid-cli rendered shows: the first line of each node label and each subgraph title. Pure. */

/** The labels' lines of a Mermaid SVG (HTML labels: `<span class="nodeLabel"><p>a<br />b</p></span>`), each label's lines in order. */
export function svgLabels(svg: string): string[][] {
    return [...svg.matchAll(/<span class="nodeLabel"[^>]*>(?:<p>)?([\s\S]*?)(?:<\/p>)?<\/span>/g)].map((m) =>
        (m[1] ?? "").split(/<br\s*\/?>/).map((l) => l.replace(/&amp;/g, "&").replace(/&lt;/g, "<").replace(/&gt;/g, ">").replace(/&quot;/g, '"')),
    );
}

/** The first line of every label: the names the picture shows (`nginx`, `host docker1`, `pub_net on docker1`). */
export function svgNames(svg: string): Set<string> {
    return new Set(svgLabels(svg).map((lines) => lines[0] ?? ""));
}
