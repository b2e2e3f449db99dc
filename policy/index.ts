/**
 * The pulumi-macvlan policy pack: `pulumi preview --policy-pack policy` from a program's directory
 * (README "Policy pack"). Constructing the PolicyPack starts the policy runtime's gRPC server, so
 * only the CLI loads this file; the policies themselves are in `policies.ts`.
 */
import { PolicyPack } from "@pulumi/policy";
import { macvlanPolicies } from "./policies";

new PolicyPack("pulumi-macvlan", {
    description: "Guards any program that puts Docker containers on a LAN with the macvlan driver",
    policies: macvlanPolicies,
});
