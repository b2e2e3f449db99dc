/**
 * The package's public API (`package.json` exports): the two components, the stack builder, the
 * config validation entry point, the drift probe and the model types.
 */
export {
    MacvlanHost,
    DEFAULT_IP_FORWARD,
    DEFAULT_PROMISC,
    DEFAULT_SHIM_LINK,
    UNPROBED_TOKEN,
    dockerSshHost,
    dockerSshOpts,
    featureTriggers,
    macvlanHostProblems,
    planHostFeatures,
    type MacvlanHostArgs,
    type MacvlanHostConnection,
    type MacvlanHostShim,
    type MacvlanHostShimInfo,
    type PlannedFeature,
} from "./macvlanHost";
export {
    MacvlanNetwork,
    CONTAINER_NETWORK_MODE,
    type MacvlanNetworkArgs,
    type MacvlanNetworkContainer,
    type MacvlanNetworkHost,
    type MacvlanNetworkHostOutputs,
    type MacvlanContainerOutputs,
} from "./macvlanNetwork";
export {
    buildStack,
    hostArgsFromModel,
    type BuildStackOptions,
    type BuiltStack,
    type StackOutputs,
    type HostStackOutputs,
    type NetworkStackOutputs,
    type NetworkHostStackOutputs,
    type ContainerStackOutputs,
} from "./stack/build";
export { probeHosts, sshProber, type HostProber, type ProbeTarget, type SshProberOptions } from "./stack/probe";
export { parseStackConfig, MacvlanConfigError, type RawStackConfig } from "./config/validate";
export * from "./config/model";
export { hostChildNames, networkChildNames, addressSlug } from "./plan/names";
