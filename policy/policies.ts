/**
 * The pack's policies, as plain objects (no gRPC server starts when this module loads: `index.ts`
 * hands them to `PolicyPack`). Each policy's `enforcementLevel` is its default; the policy pack
 * config overrides it per policy or for all (`pulumi preview --policy-pack policy
 * --policy-pack-config policy/config.example.json`, README "Policy pack").
 */
import type { EnforcementLevel, ReportViolation, ResourceValidationPolicy, StackValidationArgs, StackValidationPolicy } from "@pulumi/policy";
import { pinnedViolations, portsViolations } from "./rules/containers";
import { hostKeyViolations, type HostKeyScope } from "./rules/hostKey";
import { networkShapeViolations } from "./rules/networkShape";
import { passthruViolations } from "./rules/passthru";
import { macvlanStack, throwDeferredUnknown, type MacvlanStack, type SegmentView } from "./rules/stack";
import type { StackResource, Violation } from "./rules/types";
import { uniqueViolations } from "./rules/unique";

/** The policies' names, as the policy pack config names them. */
export const POLICY_NAMES = {
    networkShape: "macvlan-network-shape",
    containerPinned: "macvlan-container-pinned",
    containerNoPorts: "macvlan-container-no-ports",
    uniqueOnSegment: "macvlan-unique-on-segment",
    commandHostKey: "macvlan-command-host-key",
    passthruOneContainer: "macvlan-passthru-one-container",
} as const;

/** Default enforcement level of each policy (a policy pack config overrides them). */
export const DEFAULT_LEVELS: Readonly<Record<(typeof POLICY_NAMES)[keyof typeof POLICY_NAMES], EnforcementLevel>> = {
    "macvlan-network-shape": "mandatory",
    "macvlan-container-pinned": "mandatory",
    "macvlan-container-no-ports": "advisory",
    "macvlan-unique-on-segment": "mandatory",
    "macvlan-command-host-key": "mandatory",
    "macvlan-passthru-one-container": "mandatory",
};

/** Config of `macvlan-command-host-key`. */
export interface HostKeyConfig {
    /** `macvlan` (default): remote commands under a `macvlan:*` component; `all`: every remote command. */
    readonly scope?: HostKeyScope;
}

/** Config of `macvlan-unique-on-segment`. */
export interface SegmentConfig {
    /** `subnet` (default): overlapping subnets are one segment across hosts; `parent`: one engine's parent link only. */
    readonly segments?: SegmentView;
}

function report(violations: readonly Violation[], reportViolation: ReportViolation): void {
    for (const v of violations) reportViolation(v.message, v.urn);
}

/** Runs a stack rule on the stack's macvlan view: reports its violations, then throws a deferred unknown value (see MacvlanStack.unknown). */
function checkStack(args: StackValidationArgs, reportViolation: ReportViolation, rule: (stack: MacvlanStack) => Violation[], segments: SegmentView = "subnet"): void {
    const stack = macvlanStack(stackResources(args), segments);
    report(rule(stack), reportViolation);
    throwDeferredUnknown(stack);
}

/** The stack's resources as the rules read them. */
function stackResources(args: StackValidationArgs): StackResource[] {
    return args.resources.map((r) => ({ type: r.type, name: r.name, urn: r.urn, props: r.props, ...(r.provider === undefined ? {} : { provider: r.provider }) }));
}

const networkShape: ResourceValidationPolicy = {
    name: POLICY_NAMES.networkShape,
    description: "A macvlan Docker network names its parent link (options.parent) and gives every IPAM pool an explicit subnet and a gateway inside it.",
    enforcementLevel: DEFAULT_LEVELS["macvlan-network-shape"],
    validateResource: (args, reportViolation) => report(networkShapeViolations(args.type, args.name, args.props), reportViolation),
};

const commandHostKey: ResourceValidationPolicy = {
    name: POLICY_NAMES.commandHostKey,
    description: "A remote command or copy (under a macvlan component, or every one with scope: all) is pinned to the host's SSH key (connection.hostKey).",
    enforcementLevel: DEFAULT_LEVELS["macvlan-command-host-key"],
    configSchema: { properties: { scope: { type: "string", enum: ["macvlan", "all"], default: "macvlan" } } },
    validateResource: (args, reportViolation) =>
        report(hostKeyViolations(args.type, args.urn, args.props, args.getConfig<HostKeyConfig>().scope ?? "macvlan"), reportViolation),
};

const containerPinned: StackValidationPolicy = {
    name: POLICY_NAMES.containerPinned,
    description: "A container on a macvlan network of the stack has a pinned IPv4 address inside the network's subnets (not its gateway) and a pinned unicast MAC.",
    enforcementLevel: DEFAULT_LEVELS["macvlan-container-pinned"],
    validateStack: (args, reportViolation) => checkStack(args, reportViolation, pinnedViolations),
};

const containerNoPorts: StackValidationPolicy = {
    name: POLICY_NAMES.containerNoPorts,
    description: "A container on a macvlan network publishes no ports: it has its own LAN address and the engine ignores port mappings there.",
    enforcementLevel: DEFAULT_LEVELS["macvlan-container-no-ports"],
    validateStack: (args, reportViolation) => checkStack(args, reportViolation, portsViolations),
};

const uniqueOnSegment: StackValidationPolicy = {
    name: POLICY_NAMES.uniqueOnSegment,
    description: "No address or MAC is pinned by two containers on one LAN segment across the stack.",
    enforcementLevel: DEFAULT_LEVELS["macvlan-unique-on-segment"],
    configSchema: { properties: { segments: { type: "string", enum: ["subnet", "parent"], default: "subnet" } } },
    validateStack: (args, reportViolation) => checkStack(args, reportViolation, uniqueViolations, args.getConfig<SegmentConfig>().segments ?? "subnet"),
};

const passthruOneContainer: StackValidationPolicy = {
    name: POLICY_NAMES.passthruOneContainer,
    description: "A macvlan network in passthru mode holds at most one container.",
    enforcementLevel: DEFAULT_LEVELS["macvlan-passthru-one-container"],
    validateStack: (args, reportViolation) => checkStack(args, reportViolation, passthruViolations),
};

/** Every policy of the pack, in the order the pack lists them. */
export const macvlanPolicies: (ResourceValidationPolicy | StackValidationPolicy)[] = [
    networkShape,
    containerPinned,
    containerNoPorts,
    uniqueOnSegment,
    commandHostKey,
    passthruOneContainer,
];
