import { describe, expect, it } from 'vitest';
import {
  bearerChallenge,
  metadataUrl,
  resourceMetadata,
  resourceUrl,
} from '../../../src/identity/resource-metadata.js';

describe('protected-resource metadata', () => {
  it('puts the well-known segment between host and path (RFC 9728 §3.1)', () => {
    expect(metadataUrl('https://mcp.example/mcp')).toBe(
      'https://mcp.example/.well-known/oauth-protected-resource/mcp',
    );
    expect(metadataUrl('https://mcp.example:8443/t/1/mcp/')).toBe(
      'https://mcp.example:8443/.well-known/oauth-protected-resource/t/1/mcp',
    );
    expect(metadataUrl('https://mcp.example/')).toBe(
      'https://mcp.example/.well-known/oauth-protected-resource',
    );
  });

  it('names the issuer as authorization server and the required scopes, unless configured', () => {
    expect(resourceMetadata('https://g/mcp', { issuer: 'https://idp', required_scopes: ['mcp'] })).toEqual({
      resource: 'https://g/mcp',
      authorization_servers: ['https://idp'],
      scopes_supported: ['mcp'],
      bearer_methods_supported: ['header'],
      resource_name: 'mcpgov gateway',
    });
    const configured = resourceMetadata('https://g/mcp', {
      issuer: 'https://idp',
      authorization_servers: ['https://as'],
      scopes_supported: ['a', 'b'],
    });
    expect(configured).toMatchObject({ authorization_servers: ['https://as'], scopes_supported: ['a', 'b'] });
  });

  it('takes the resource from config, else a URL audience, else the listener', () => {
    expect(resourceUrl({ resource: 'https://r/mcp', audience: 'https://a/mcp' }, 'http://l/mcp')).toBe(
      'https://r/mcp',
    );
    expect(resourceUrl({ audience: 'https://a/mcp' }, 'http://l/mcp')).toBe('https://a/mcp');
    expect(resourceUrl({ audience: 'mcpgov' }, 'http://l/mcp')).toBe('http://l/mcp');
  });
});

describe('bearer challenge', () => {
  it('lists error, description, scope and metadata, keeping quotes out of the description (RFC 6750 §3)', () => {
    expect(
      bearerChallenge({
        error: 'insufficient_scope',
        description: 'missing "mcp:tools"\\',
        scope: ['mcp:tools', 'mcp:read'],
        resourceMetadata: 'https://g/.well-known/oauth-protected-resource/mcp',
      }),
    ).toBe(
      `Bearer error="insufficient_scope", error_description="missing 'mcp:tools''", scope="mcp:tools mcp:read", resource_metadata="https://g/.well-known/oauth-protected-resource/mcp"`,
    );
    expect(bearerChallenge({})).toBe('Bearer');
  });
});
