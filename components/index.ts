/**
 * The package's public API (`package.json` exports), kept narrow: the three components with their
 * arguments and outputs, the stack builder, the config entry point with its host key policy (and the warnings of a valid config), the
 * error type, the model types with their defaults, and the child names (released: a changed name
 * replaces a resource).
 */
export {
    MacvlanHost,
    MACVLAN_HOST_TYPE,
    type MacvlanHostArgs,
    type MacvlanHostConnection,
    type MacvlanHostShim,
    type MacvlanHostShimInfo,
} from "./macvlanHost";
export {
    MacvlanNetwork,
    MACVLAN_NETWORK_TYPE,
    type MacvlanNetworkArgs,
    type MacvlanNetworkContainer,
    type MacvlanNetworkHost,
    type MacvlanNetworkHostOutputs,
    type MacvlanContainerOutputs,
} from "./macvlanNetwork";
export {
    MacvlanSwarmNetwork,
    MACVLAN_SWARM_NETWORK_TYPE,
    type MacvlanSwarmNetworkArgs,
    type MacvlanSwarmNetworkHost,
} from "./macvlanSwarmNetwork";
export { SWARM_MODES, type SwarmMode } from "./host/swarmNetwork";
export {
    buildStack,
    type BuildStackOptions,
    type BuiltStack,
    type StackOutputs,
    type HostStackOutputs,
    type NetworkStackOutputs,
    type NetworkHostStackOutputs,
    type ContainerStackOutputs,
} from "./stack/build";
export { engineRuleProblems, parseStackConfig, type EngineRuleOptions, type HostKeyPolicy, type RawStackConfig } from "./config/parse";
export { configWarnings } from "./config/warnings";
export { MacvlanConfigError } from "./net/problems";
export * from "./config/model";
export { hostChildNames, networkChildNames, swarmConfigNetworkName, swarmNetworkChildNames } from "./net/names";
