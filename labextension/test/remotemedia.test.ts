import { describe, expect, it } from 'vitest';

import { cssRemoteHost, remoteHost } from '../src/remotemedia';

const ORIGIN = 'http://127.0.0.1:8888';

describe('remoteHost', () => {
  it('names the host of a URL on another origin', () => {
    expect(remoteHost('http://evil.example/exfil?d=1', ORIGIN)).toBe(
      'evil.example'
    );
    expect(remoteHost('https://evil.example:8443/x.png', ORIGIN)).toBe(
      'evil.example:8443'
    );
    expect(remoteHost('//evil.example/x.png', ORIGIN)).toBe('evil.example');
    expect(remoteHost('\\\\evil.example/x.png', ORIGIN)).toBe('evil.example');
    expect(remoteHost(' ht\ttp://evil.example/', ORIGIN)).toBe('evil.example');
    expect(remoteHost('HTTP://EVIL.example/', ORIGIN)).toBe('evil.example');
  });

  it('lets relative, same-origin, data and blob URLs load', () => {
    expect(remoteHost('plot.png', ORIGIN)).toBeNull();
    expect(remoteHost('/files/plot.png', ORIGIN)).toBeNull();
    expect(remoteHost('../a/b.png?x=1', ORIGIN)).toBeNull();
    expect(
      remoteHost(`${ORIGIN}/oui/api/v1/files/abc/content`, ORIGIN)
    ).toBeNull();
    expect(remoteHost('data:image/png;base64,AAAA', ORIGIN)).toBeNull();
    expect(remoteHost('blob:http://127.0.0.1:8888/1234', ORIGIN)).toBeNull();
  });

  it('treats another port of the same host as remote', () => {
    expect(remoteHost('http://127.0.0.1:9999/x', ORIGIN)).toBe(
      '127.0.0.1:9999'
    );
  });
});

describe('cssRemoteHost', () => {
  it('finds remote url() in a style', () => {
    expect(
      cssRemoteHost('background-image: url("http://evil.example/a")', ORIGIN)
    ).toBe('evil.example');
    expect(
      cssRemoteHost("background: url('//evil.example/a') no-repeat", ORIGIN)
    ).toBe('evil.example');
    expect(cssRemoteHost('background: url(local.png)', ORIGIN)).toBeNull();
    expect(cssRemoteHost('color: red', ORIGIN)).toBeNull();
  });
});
