import { graphql } from '../gql/index.js';

// Documents shared by several test files.

export const MessageFields = graphql(`
  fragment MessageFields on Message {
    id
    channelId
    content
    messageType
    metadata
    threadId
    replyCount
    edited
    deleted
    cursor
    createdAt
    author {
      id
      displayName
    }
    reactions {
      emoji
      count
      viewerReacted
      userIds
    }
    readBy {
      user {
        id
      }
      readAt
    }
  }
`);

export const CreateChannel = graphql(`
  mutation CreateChannel($input: CreateChannelInput!) {
    createChannel(input: $input) {
      id
      name
      channelType
      memberCount
    }
  }
`);

export const AddMembers = graphql(`
  mutation AddMembers($input: AddChannelMembersInput!) {
    addChannelMembers(input: $input) {
      id
      memberCount
    }
  }
`);

export const RemoveMember = graphql(`
  mutation RemoveMember($input: RemoveChannelMemberInput!) {
    removeChannelMember(input: $input) {
      id
      memberCount
    }
  }
`);

export const SendMessage = graphql(`
  mutation SendMessage($input: SendMessageInput!) {
    sendMessage(input: $input) {
      ...MessageFields
    }
  }
`);

export const Messages = graphql(`
  query Messages($channelId: ID!, $first: Int, $after: String, $last: Int, $before: String) {
    messages(channelId: $channelId, first: $first, after: $after, last: $last, before: $before) {
      edges {
        cursor
        node {
          ...MessageFields
        }
      }
      pageInfo {
        hasNextPage
        hasPreviousPage
        startCursor
        endCursor
      }
    }
  }
`);

export const MessageEvents = graphql(`
  subscription MessageEvents($channelId: ID!, $after: String) {
    messageEvents(channelId: $channelId, after: $after) {
      kind
      cursor
      message {
        id
        content
        deleted
        threadId
        author {
          id
        }
      }
    }
  }
`);

export const ReplayWebhookDelivery = graphql(`
  mutation ReplayWebhookDelivery($id: ID!) {
    replayWebhookDelivery(id: $id) {
      id
      status
      attempts
      errors
    }
  }
`);
