// The network-namespace helpers live with the chaos suite, which partitions meshes too.
export * from '../../chaos/netns.js'
