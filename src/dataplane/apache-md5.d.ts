// apache-md5 (CommonJS, no bundled types): Apache's $apr1$ MD5-crypt. Called with a stored hash as
// the salt it returns the hash of `password` with that salt.
declare module "apache-md5" {
  function apacheMd5(password: string, salt?: string): string;
  export = apacheMd5;
}
