// Easel's CloudFront signing key (infra/stacks/private.go). A custom resource per key
// generation: on Create and Update it makes sure the generation's secret holds an RSA
// 2048 private key (PEM, PKCS#8) and answers the public key, which the template puts
// into a CloudFront public key of the image key group. The private key never leaves
// Secrets Manager and this function: it is not in the template or the response.
// Idempotent: a secret that already holds a key keeps it (a retried Create or an
// Update answers the same public key). Delete does nothing: CloudFormation deletes the
// secret itself.
const crypto = require('crypto');
const { SecretsManagerClient, GetSecretValueCommand, PutSecretValueCommand } = require('@aws-sdk/client-secrets-manager');

exports.handler = async (event) => {
  const secretId = event.ResourceProperties.SecretArn;
  let status = 'SUCCESS', reason = 'ok', data = {};
  try {
    if (event.RequestType !== 'Delete') {
      data = { PublicKey: await ensureKey(new SecretsManagerClient({}), secretId) };
      reason = 'signing key in ' + secretId;
    }
  } catch (e) {
    console.error('signing key failed', e);
    status = 'FAILED';
    reason = 'signing key failed: ' + e;
  }
  console.log(event.RequestType, status, reason);
  await respond(event, status, reason, secretId, data);
};

async function ensureKey(sm, SecretId) {
  const current = (await sm.send(new GetSecretValueCommand({ SecretId }))).SecretString || '';
  if (current.includes('-----BEGIN PRIVATE KEY-----')) {
    return crypto.createPublicKey(current).export({ type: 'spki', format: 'pem' });
  }
  const { publicKey, privateKey } = crypto.generateKeyPairSync('rsa', {
    modulusLength: 2048,
    publicKeyEncoding: { type: 'spki', format: 'pem' },
    privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
  });
  await sm.send(new PutSecretValueCommand({ SecretId, SecretString: privateKey }));
  return publicKey;
}

function respond(event, status, reason, id, data) {
  const body = JSON.stringify({
    Status: status, Reason: reason.slice(0, 500), PhysicalResourceId: event.PhysicalResourceId || id || 'signing-key',
    StackId: event.StackId, RequestId: event.RequestId, LogicalResourceId: event.LogicalResourceId, NoEcho: false, Data: data,
  });
  const client = require(event.ResponseURL.startsWith('https:') ? 'https' : 'http');
  return new Promise((resolve, reject) => {
    const req = client.request(event.ResponseURL, { method: 'PUT', headers: { 'content-type': '', 'content-length': Buffer.byteLength(body) } },
      (res) => { res.resume(); res.on('end', resolve); });
    req.on('error', reject);
    req.end(body);
  });
}
